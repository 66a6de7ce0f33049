"""RFC 9207 on the OAuth sign-in's loopback redirect: an answer naming another authorization
server (``iss``) than the one Kyso sent the user to is a mix-up, refused before the code and
the PKCE verifier go anywhere. An answer without ``iss`` (servers that predate RFC 9207) and
one naming this server are taken."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web

from agent.errors import KysoError
from agent.remote.oauth import OAuthClient
from agent.remote.providers import parse_provider


async def _sign_in(issuer: str | None) -> tuple[str | KysoError, list[str]]:
    """One browser sign-in whose answer carries ``issuer`` ("{base}" is this server's
    address): the bearer or the error, and the codes the token endpoint was sent."""
    exchanged: list[str] = []

    async def token(request: web.Request) -> web.Response:
        exchanged.append(str((await request.post())["code"]))
        return web.json_response({"access_token": "t-" + exchanged[-1], "expires_in": 600})

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def browser(url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        answer = {"state": query["state"][0], "code": "the-code"}
        if issuer is not None:
            answer["iss"] = issuer.format(base=base)
        redirect = query["redirect_uri"][0] + "?" + urlencode(answer)
        async with aiohttp.ClientSession() as other, other.get(redirect) as resp:
            assert resp.status == 200

    provider = parse_provider(
        {
            "name": "p",
            "base_url": "https://csc.example.vn",
            "client_id": "kyso",
            "auth_flow": "authorization_code",
            "oauth_url": base,
        }
    )
    try:
        async with aiohttp.ClientSession() as session:
            client = OAuthClient(provider, session, browser=browser)
            try:
                result: str | KysoError = str(
                    await asyncio.wait_for(client.bearer(interactive=True), 60)
                )
            except KysoError as exc:
                result = exc
    finally:
        await runner.cleanup()
    return result, exchanged


async def test_an_answer_from_another_authorization_server_is_refused() -> None:
    result, exchanged = await _sign_in("https://attacker.example")
    assert isinstance(result, KysoError) and result.code == "REMOTE_AUTH_REFUSED"
    assert result.details["reason"] == "wrong_issuer"
    said = result.to_dict()
    assert "máy chủ đăng nhập khác" in said["message_vi"] and said["action_en"]
    assert exchanged == []  # the code was sent to no token endpoint


@pytest.mark.parametrize("issuer", [None, "{base}", "{base}/", "{base}/oauth2"])
async def test_an_answer_from_this_server_or_without_iss_is_taken(issuer: str | None) -> None:
    result, exchanged = await _sign_in(issuer)
    assert result == "t-the-code" and exchanged == ["the-code"]
