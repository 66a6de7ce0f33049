"""A credential the service unlocks itself (CSC "implicit": a push to the user's phone) gets the
time a person needs to approve (red team 34).

``credentials/authorize`` then answers only once the person approved on the phone; it was held
to ``timeout_seconds`` (30 s by default, meant for a machine's answer), so a user who took
longer than that to find the phone got REMOTE_TIMEOUT. It now waits
``approval_timeout_seconds`` (120 s by default); a call that carries a PIN or an OTP keeps the
short timeout, as does every other call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from agent.errors import KysoError
from agent.remote.directory import RemoteService
from agent.remote.prompt import StaticCredentialPrompter
from agent.remote.providers import parse_provider
from agent.signing.remote import RemoteSigner
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.evilcsc import PIN, EvilCsc, evilcsc, info_body, listed  # noqa: F401

ALG = SignatureAlgorithm.RSA_PKCS1_SHA256
APPROVAL_DELAY = 1.5  # the person reaching for the phone (longer than timeout_seconds below)


def _slow_approval(evilcsc: EvilCsc, mode: str) -> None:  # noqa: F811
    auth: dict[str, Any] = {"mode": mode}
    if mode == "explicit":
        auth["objects"] = [{"type": "Password", "id": "PIN"}]

    async def info(_request: web.Request, _body: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(info_body(auth=auth))

    async def authorize(_request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(APPROVAL_DELAY)
        return web.json_response({"SAD": "sad-xyz", "expiresIn": 300})

    evilcsc.routes["credentials/info"] = info
    evilcsc.routes["credentials/authorize"] = authorize


async def _sign(evilcsc: EvilCsc, **provider: Any) -> bytes:  # noqa: F811
    service = RemoteService(evilcsc.provider(timeout_seconds=1, **provider))
    try:
        [credential] = await listed(service)
        signer = RemoteSigner.open(credential, service, StaticCredentialPrompter(PIN))
        return await asyncio.wait_for(signer.sign(b"to be signed", ALG), 20)
    finally:
        await service.close()


async def test_an_approval_on_the_phone_may_take_longer_than_a_machines_answer(
    evilcsc: EvilCsc,  # noqa: F811
) -> None:
    _slow_approval(evilcsc, "implicit")
    signature = await _sign(evilcsc, approval_timeout_seconds=10)
    assert len(signature) == 256
    [(_, body, _)] = [seen for seen in evilcsc.seen if seen[0] == "credentials/authorize"]
    assert "PIN" not in body and "OTP" not in body


async def test_the_approval_wait_has_its_own_bound(evilcsc: EvilCsc) -> None:  # noqa: F811
    _slow_approval(evilcsc, "implicit")
    with pytest.raises(KysoError) as caught:
        await _sign(evilcsc, approval_timeout_seconds=1)
    assert caught.value.code == "REMOTE_TIMEOUT"


async def test_a_call_carrying_the_pin_keeps_the_short_timeout(
    evilcsc: EvilCsc,  # noqa: F811
) -> None:
    _slow_approval(evilcsc, "explicit")
    with pytest.raises(KysoError) as caught:
        await _sign(evilcsc, approval_timeout_seconds=10)
    assert caught.value.code == "REMOTE_TIMEOUT"
    assert caught.value.details["seconds"] == 1


@pytest.mark.parametrize("value", [0, 601, True, "120", 1.5])
def test_approval_timeout_is_a_whole_number_of_seconds_up_to_ten_minutes(value: Any) -> None:
    table = {"name": "x", "base_url": "https://a.vn", "approval_timeout_seconds": value}
    with pytest.raises(ValueError, match="approval_timeout_seconds"):
        parse_provider(table)


def test_approval_timeout_defaults_to_two_minutes() -> None:
    assert parse_provider({"name": "x", "base_url": "https://a.vn"}).approval_timeout_seconds == 120


async def test_the_session_does_not_cut_a_long_approval_at_aiohttps_300_s() -> None:
    """Review 41: the provider's aiohttp session kept aiohttp's default total timeout (300 s),
    so a wait documented up to 600 s ended at 300 s, reported as the configured seconds."""
    from agent.remote.directory import RemoteService

    table = {"name": "x", "base_url": "https://a.vn", "approval_timeout_seconds": 600}
    service = RemoteService(parse_provider(table))
    try:
        total = service.session.timeout.total
    finally:
        await service.close()
    assert total is None
