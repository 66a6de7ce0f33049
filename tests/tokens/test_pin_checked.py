"""Whenever a PIN is asked, the token checks that PIN (issue: a wrong PIN that still signed).

PKCS#11 keeps login state per token per process, so a second ``C_Login`` while another caller is
logged in answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN. These tests run two
TokenServices in one process on the real SoftHSM2 demo token, and a login leaked outside the
token layer, and prove a wrong PIN never signs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from agent.errors import KysoError
from agent.tokens import SignatureAlgorithm, StaticPinProvider
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN2, pin_of

WRONG = "000000-WRONG"


@pytest.fixture
async def second_service(demo: dict[str, Any]) -> Any:
    """Another TokenService in the same process, over the same (shared) module."""
    service = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        yield service
    finally:
        await service.close()


async def test_wrong_pin_on_a_second_service_waits_and_is_refused(
    demo, token2_clean, second_service
):
    """Service A is logged in; service B with a wrong PIN must not ride on A's login."""
    thumb = cert_thumbprint(demo, "org_renewed")
    good = StaticPinProvider(pin_of(demo, TOKEN2))
    wrong = StaticPinProvider(WRONG)
    async with token2_clean.open_key(thumb, good) as key_a:
        attempt = asyncio.ensure_future(_sign_with(second_service, thumb, wrong))
        # B waits for A's turn on the token: it is not even asked for its PIN meanwhile.
        done, _ = await asyncio.wait({attempt}, timeout=0.5)
        assert not done
        assert wrong.requests == []
        # A's login is intact: nobody logged it out or replaced it under A's feet.
        assert await key_a.sign(b"a", SignatureAlgorithm.RSA_PKCS1_SHA256)
    with pytest.raises(KysoError) as err:
        await attempt
    assert err.value.code == "PIN_INCORRECT"
    assert len(wrong.requests) == 1


async def test_a_stale_login_in_the_process_is_not_reused(demo, token2_clean):
    """A login made outside the token layer (a leak, other code) is logged out, and the token
    judges the PIN the user just typed: wrong refuses, right signs."""
    thumb = cert_thumbprint(demo, "org_renewed")
    cert = await token2_clean.find_certificate(thumb)
    module = token2_clean.module_for(cert.token)
    leaked = await module.worker.run(_leak_login, module, TOKEN2, pin_of(demo, TOKEN2))
    try:
        with pytest.raises(KysoError) as err:
            await _sign_with(token2_clean, thumb, StaticPinProvider(WRONG))
        assert err.value.code == "PIN_INCORRECT"
        signature = await _sign_with(token2_clean, thumb, StaticPinProvider(pin_of(demo, TOKEN2)))
        assert signature
    finally:
        await module.worker.run(_close_quietly, leaked)


async def _sign_with(service: TokenService, thumb: str, pins: StaticPinProvider) -> bytes:
    async with service.open_key(thumb, pins) as key:
        return await key.sign(b"payload", SignatureAlgorithm.RSA_PKCS1_SHA256)


def _leak_login(module: Any, label: str, pin: str) -> Any:
    """On the module's worker: log in with python-pkcs11 directly and keep the session open."""
    token = module.raw_library().get_token(token_label=label)
    return token.open(user_pin=pin)


def _close_quietly(session: Any) -> None:
    # Logged out already by the token layer: C_Logout fails, which is expected here.
    with contextlib.suppress(Exception):
        session.close()


async def test_a_pin_cache_login_is_parked_not_locked_and_never_lent_to_a_wrong_pin(
    demo, token2_clean, second_service
):
    """The agent's PIN cache keeps the token logged in between operations, but not the lock:
    another caller gets the token at once, and its wrong PIN is judged by the token instead
    of riding on the parked login."""
    from agent.tokens.service import LoginCache

    thumb = cert_thumbprint(demo, "org_renewed")
    cert = await token2_clean.find_certificate(thumb)
    cache = LoginCache(600)
    good = StaticPinProvider(pin_of(demo, TOKEN2))
    try:
        async with token2_clean.reserve(cert) as turn, turn.key(good, cache=cache) as key:
            assert await key.sign(b"a", SignatureAlgorithm.RSA_PKCS1_SHA256)
        assert cache.cached_tokens == 1  # still logged in...
        lock = token2_clean.module_for(cert.token).token_lock(cert.token.key)
        assert not lock.locked()  # ...but the token's turn is free
        wrong = StaticPinProvider(WRONG)
        with pytest.raises(KysoError) as err:
            await asyncio.wait_for(_sign_with(second_service, thumb, wrong), timeout=30)
        assert err.value.code == "PIN_INCORRECT" and len(wrong.requests) == 1
        assert cache.cached_tokens == 0  # the parked login was logged out first
        # The cache's next use asks its PIN again: nothing of the other caller's was kept.
        async with token2_clean.reserve(cert) as turn, turn.key(good, cache=cache) as key:
            assert await key.sign(b"b", SignatureAlgorithm.RSA_PKCS1_SHA256)
        assert len(good.requests) == 2
    finally:
        await cache.close()
