"""A service's CSC ``info`` (unauthenticated) may name its sign-in server only at its own
address. Announcing another origin, for instance another provider's OAuth server, made Kyso
send the user to that server and hand the access token it issued (or the client secret) to the
announcing service, which could use it at the other provider: an administrator's ``oauth_url``
is the only way to name another address."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.demo.remote import CLIENT_ID, RunningService
from agent.errors import KysoError
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.providers import parse_provider
from tests.recording_server import RecordingServer, elsewhere  # noqa: F401 - fixture
from tests.remote.conftest import Browser, make_provider


async def test_a_sign_in_server_at_another_address_is_refused(
    csc: RunningService,
    elsewhere: RecordingServer,  # noqa: F811
) -> None:
    csc.server.state.oauth2_url = elsewhere.url
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
    assert browser.opened == [] and elsewhere.requests == []


async def test_the_client_secret_never_goes_to_another_address(
    csc: RunningService,
    elsewhere: RecordingServer,  # noqa: F811
    secret_file: Path,
) -> None:
    csc.server.state.oauth2_url = f"{elsewhere.url}/oauth"
    service = RemoteService(make_provider(csc.url, secret_file))
    try:
        with pytest.raises(KysoError) as err:
            await RemoteDirectory([service]).sign_in("demo")
    finally:
        await service.close()
    assert err.value.code == "REMOTE_PROTOCOL_ERROR"
    assert elsewhere.requests == []  # no token request, so no secret


async def test_an_administrators_oauth_url_may_name_another_address(
    csc: RunningService,
    elsewhere: RecordingServer,  # noqa: F811
) -> None:
    csc.server.state.oauth2_url = elsewhere.url  # ignored: the configuration decides
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
    assert len(browser.opened) == 1 and elsewhere.requests == []
