"""Pulling a token out and plugging it back in, on real SoftHSM2.

How the pull is simulated (see ``token_pulled`` in conftest.py): SoftHSM2 keeps each token in
its own directory under the private token store of the test's $KYSO_HOME; moving that directory
out of the store is what a pulled reader looks like to a PKCS#11 caller — an open session fails
on its next call and the slot shows no token. Moving it back is re-insertion, which SoftHSM2
only sees after C_Finalize/C_Initialize; the token layer does that itself whenever the module
is idle (no key session open), so no restart is needed. KYSO DEMO 2 is used (other areas use it
least) and its directory is ALWAYS moved back, in a finally block.
"""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from agent.errors import KysoError
from agent.tokens import SignatureAlgorithm, StaticPinProvider
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN1, TOKEN2, pin_of, token_pulled

ALG = SignatureAlgorithm.RSA_PKCS1_SHA256


def verify(cert, signature: bytes, data: bytes) -> None:
    """Raise unless ``signature`` is RSA PKCS#1 v1.5 SHA-256 over ``data`` by ``cert``'s key."""
    cert.info.certificate.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


async def test_pull_mid_session_then_reinsert_without_restart(demo, kyso_home, token_service):
    service = token_service
    events = service.subscribe()
    thumb = cert_thumbprint(demo, "org_renewed")
    pins = StaticPinProvider(pin_of(demo, TOKEN2))

    with token_pulled(kyso_home, TOKEN2) as pulled:
        async with service.open_key(thumb, pins) as key:
            verify(key.certificate, await key.sign(b"before", ALG), b"before")
            pulled.pull()
            # The pull happens while the key is logged in: a clear error, no hang, no crash.
            with pytest.raises(KysoError) as err:
                await asyncio.wait_for(key.sign(b"during", ALG), timeout=10)
            assert err.value.code == "TOKEN_REMOVED"
            assert "Nothing was signed" in err.value.to_dict()["action_en"]
            # While the dead session is still open, the slot already shows no token.
            labels = {t.label for t in await service.list_tokens()}
            assert TOKEN2 not in labels and TOKEN1 in labels
        # Leaving the block closed what was left of the session without raising.
        removed = await service.rescan()
        assert [(e.kind, e.token.label) for e in removed] == [("removed", TOKEN2)]
        event = events.get_nowait()
        assert (event.kind, event.token.label) == ("removed", TOKEN2)
        with pytest.raises(KysoError) as err:
            await service.find_certificate(thumb)
        assert err.value.code == "CERT_NOT_FOUND"
        assert await service.rescan() == []  # nothing new: no duplicate events

        pulled.reinsert()
        # The module is idle: the next scan re-initialises SoftHSM2 and sees the token again.
        inserted = await service.rescan()
        assert [(e.kind, e.token.label) for e in inserted] == [("inserted", TOKEN2)]
        event = events.get_nowait()
        assert (event.kind, event.token.label) == ("inserted", TOKEN2)

    # The same service (no restart) signs with the re-inserted token again.
    async with service.open_key(thumb, pins) as key:
        verify(key.certificate, await key.sign(b"after", ALG), b"after")
    assert events.empty()


async def test_monitor_reports_removal_and_insertion_by_itself(demo, kyso_home):
    service = TokenService(
        [ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)], poll_interval=0.05
    )
    await service.start(monitor=True)
    try:
        events = service.subscribe()
        with token_pulled(kyso_home, TOKEN2) as pulled:
            pulled.pull()
            event = await asyncio.wait_for(events.get(), timeout=10)
            assert (event.kind, event.token.label) == ("removed", TOKEN2)
            pulled.reinsert()
            event = await asyncio.wait_for(events.get(), timeout=10)
        assert (event.kind, event.token.label) == ("inserted", TOKEN2)
        service.unsubscribe(events)
    finally:
        await service.close()


async def test_token_pulled_while_the_pin_dialog_is_open(demo, kyso_home, token_service):
    """The user pulls the token while typing the PIN: the login finds no token."""

    class PullWhileAsking:
        def __init__(self, pulled) -> None:
            self.pulled = pulled

        async def get_pin(self, request):
            self.pulled.pull()
            return pin_of(demo, TOKEN2)

    with token_pulled(kyso_home, TOKEN2) as pulled:
        with pytest.raises(KysoError) as err:
            async with token_service.open_key(
                cert_thumbprint(demo, "org_renewed"), PullWhileAsking(pulled)
            ):
                pass
        assert err.value.code == "TOKEN_REMOVED"
    await token_service.rescan()
    assert TOKEN2 in {t.label for t in await token_service.list_tokens()}


async def test_other_token_keeps_signing_while_one_is_pulled(demo, kyso_home, token_service):
    with token_pulled(kyso_home, TOKEN2) as pulled:
        pulled.pull()
        await token_service.rescan()
        async with token_service.open_key(
            cert_thumbprint(demo, "org"), StaticPinProvider(pin_of(demo, TOKEN1))
        ) as key:
            verify(key.certificate, await key.sign(b"token 1", ALG), b"token 1")


async def test_a_failed_scan_or_a_transient_slot_error_is_not_a_removal(token_service, monkeypatch):
    """A module that errors once (or a slot SoftHSM2 cannot read while another process writes
    it) must not tell every page that the token was pulled out."""
    module = token_service._modules[0]
    real_scan = module.scan
    calls = {"n": 0}

    async def flaky_scan(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("module hiccup")
        return await real_scan(**kwargs)

    monkeypatch.setattr(module, "scan", flaky_scan)
    assert await token_service.rescan() == []

    async def one_slot_missing_once(**kwargs):
        calls["n"] += 1
        tokens = await real_scan(**kwargs)
        return tokens[1:] if calls["n"] == 2 else tokens

    monkeypatch.setattr(module, "scan", one_slot_missing_once)
    assert await token_service.rescan() == []
    assert calls["n"] == 3, "a missing token must be confirmed by a second scan"


async def test_listing_never_reinitialises_the_module_only_the_hot_plug_pass_does(token_service):
    """Re-initialising a fixed-slot module reloads every token: it belongs to the monitor's
    periodic pass, not to each request's certificate lookup."""
    module = token_service._modules[0]
    calls: list[str] = []

    class ReinitSpy:
        def __init__(self, lib):
            self.real = lib

        def reinitialize(self):
            calls.append("reinitialize")
            self.real.reinitialize()

        def __getattr__(self, name):
            return getattr(self.real, name)

    module._lib = ReinitSpy(module._lib)
    try:
        await token_service.list_tokens()
        await token_service.list_certificates()
        assert calls == []
        await token_service.rescan()
        assert calls == ["reinitialize"]
    finally:
        module._lib = module._lib.real


async def test_a_token_s_mechanisms_are_read_once_while_it_stays_in_and_again_after(
    demo, kyso_home, token_service
):
    """Every request's listing scans the slots; the mechanism list (a slow read) is taken once
    per token while it stays in, and read anew for a token that was pulled and put back."""
    module = token_service._modules[0]
    reads: list[str] = []

    class SlotSpy:
        def __init__(self, slot):
            self.real = slot

        def get_mechanisms(self):
            reads.append(self.real.get_token().label)
            return self.real.get_mechanisms()

        def __getattr__(self, name):
            return getattr(self.real, name)

    class LibSpy:
        def __init__(self, lib):
            self.real = lib

        def get_slots(self, **kwargs):
            return [SlotSpy(slot) for slot in self.real.get_slots(**kwargs)]

        def __getattr__(self, name):
            return getattr(self.real, name)

    module._lib = LibSpy(module._lib)
    try:
        before = {t.label: t.mechanisms for t in await token_service.list_tokens()}
        again = {t.label: t.mechanisms for t in await token_service.list_tokens()}
        assert again == before and before[TOKEN2]  # the same, non-empty lists
        assert reads.count(TOKEN1) <= 1 and reads.count(TOKEN2) <= 1
        reads.clear()
        with token_pulled(kyso_home, TOKEN2) as pulled:
            pulled.pull()
            await token_service.rescan()
            pulled.reinsert()
            await token_service.rescan()
        after = {t.label: t.mechanisms for t in await token_service.list_tokens()}
        assert after == before
        assert reads.count(TOKEN2) == 1 and TOKEN1 not in reads
    finally:
        module._lib = module._lib.real
