"""The OAuth sign-in's loopback redirect takes the code only from this OS user's browser.

The redirect's port and ``state`` sit in the browser's command line, which every user of a
terminal server can read in /proc. A real second OS user (useradd + runuser, as in
tests/server/test_accept_peer.py) hands in its own code first: it is refused, and the code
exchanged is the one this user's browser brings."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from aiohttp import web

from agent.remote.oauth import OAuthClient
from agent.remote.providers import parse_provider
from tests.server.test_accept_peer import _other_user

REDIRECT = r"""
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=20).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""


def _redirect(url: str, code: str) -> str:
    query = parse_qs(urlsplit(url).query)
    return query["redirect_uri"][0] + "?" + urlencode({"state": query["state"][0], "code": code})


async def _get_as(argv: list[str], url: str) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, "-c", REDIRECT, url, stdout=subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode().strip()


async def test_a_code_from_another_os_user_is_refused() -> None:
    user = _other_user()
    exchanged: list[str] = []

    async def token(request: web.Request) -> web.Response:
        exchanged.append(str((await request.post())["code"]))
        return web.json_response({"access_token": "t-" + exchanged[-1], "expires_in": 600})

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    statuses: list[str] = []

    async def browser(url: str) -> None:
        # Another user's program first, then this user's browser, each with the right state.
        other = ["runuser", "-u", user, "--", "/usr/bin/python3"]
        statuses.append(await _get_as(other, _redirect(url, "attackers-code")))
        statuses.append(await _get_as([sys.executable], _redirect(url, "users-code")))

    provider = parse_provider(
        {
            "name": "p",
            "base_url": "https://csc.example.vn",
            "client_id": "kyso",
            "auth_flow": "authorization_code",
            "oauth_url": f"http://127.0.0.1:{runner.addresses[0][1]}",
        }
    )
    try:
        async with aiohttp.ClientSession() as session:
            client = OAuthClient(provider, session, browser=browser)
            bearer = await asyncio.wait_for(client.bearer(interactive=True), 60)
    finally:
        await runner.cleanup()
    assert statuses == ["403", "200"]
    assert exchanged == ["users-code"] and bearer == "t-users-code"
