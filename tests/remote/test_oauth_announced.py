"""A service's CSC ``info`` (unauthenticated) may name its sign-in server only at its own
address. Announcing another origin, for instance another provider's OAuth server, made Kyso
send the user to that server and hand the access token it issued (or the client secret) to the
announcing service, which could use it at the other provider: an administrator's ``oauth_url``
is the only way to name another address."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.demo.remote import CLIENT_ID, RunningService
from agent.errors import KysoError
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.providers import parse_provider
from tests.remote.conftest import Browser, make_provider


class _OtherServer:
    """Another provider's sign-in server on loopback: records every request that reaches it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def other() -> Iterator[_OtherServer]:
    server = _OtherServer()
    yield server
    server.close()


async def test_a_sign_in_server_at_another_address_is_refused(
    csc: RunningService, other: _OtherServer
) -> None:
    csc.server.state.oauth2_url = other.url
    table = {"name": "demo", "base_url": csc.url, "client_id": CLIENT_ID}
    provider = parse_provider({**table, "auth_flow": "authorization_code"})
    browser = Browser()
    service = RemoteService(provider, browser=browser)
    try:
        with pytest.raises(KysoError) as err:
            await RemoteDirectory([service]).sign_in("demo")
    finally:
        await service.close()
    assert err.value.code == "REMOTE_PROTOCOL_ERROR"
    assert "oauth_url" in err.value.details["detail"]
    assert browser.opened == [] and other.requests == []


async def test_the_client_secret_never_goes_to_another_address(
    csc: RunningService, other: _OtherServer, secret_file: Path
) -> None:
    csc.server.state.oauth2_url = f"{other.url}/oauth"
    service = RemoteService(make_provider(csc.url, secret_file))
    try:
        with pytest.raises(KysoError) as err:
            await RemoteDirectory([service]).sign_in("demo")
    finally:
        await service.close()
    assert err.value.code == "REMOTE_PROTOCOL_ERROR"
    assert other.requests == []  # no token request, so no secret


async def test_an_administrators_oauth_url_may_name_another_address(
    csc: RunningService, other: _OtherServer
) -> None:
    csc.server.state.oauth2_url = other.url  # ignored: the configuration decides
    table = {"name": "demo", "base_url": csc.url, "client_id": CLIENT_ID}
    provider = parse_provider(
        {**table, "auth_flow": "authorization_code", "oauth_url": f"{csc.url}/sso"}
    )
    browser = Browser()
    service = RemoteService(provider, browser=browser)
    try:
        await RemoteDirectory([service]).sign_in("demo")
    finally:
        await service.close()
    assert len(browser.opened) == 1 and other.requests == []
