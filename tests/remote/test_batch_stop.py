"""A remote batch stopped from this side (sign.batch: an item failed with stop_on_error, or an
audit record could not be written) authorises nothing more: a PIN prompt still open closes, the
items waiting get the stop's error, an item submitting later gets it at once, and signatures
already made are kept. Against the real CSC test service; each step waits on an event."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from agent.errors import KysoError
from agent.remote.directory import RemoteCredential, RemoteDirectory, RemoteService
from agent.remote.prompt import CredentialPrompt, CredentialSecrets
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import SmsPrompter, remote_signer

ALG = SignatureAlgorithm.RSA_PKCS1_SHA256
SECONDS = 30  # each test's own bound: it stops by itself


def _digest(i: int) -> bytes:
    return hashlib.sha256(f"hồ sơ {i}".encode()).digest()


class HeldPrompter:
    """A PIN prompt the user has not answered yet; says when it opened and when it closed."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Wait for an answer that never comes (until cancelled)."""
        self.opened.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.closed.set()
        return None


async def test_a_stop_while_the_pin_is_asked_closes_the_prompt_and_sends_nothing(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    prompter = HeldPrompter()
    signer = remote_signer(service, credentials["org"], prompter)
    stop = KysoError("BATCH_ITEM_SKIPPED")

    async def failing_item() -> bytes:
        await prompter.opened.wait()  # the others' flush is asking the PIN
        batch.stop(stop)
        raise KysoError("INPUT_INVALID", {"detail": "broken item"})

    async def late_item() -> bytes:
        await prompter.closed.wait()  # after the stop: refused at once, nothing sent
        return await signer.sign_digest(_digest(9), ALG)

    async with signer.collect(4) as batch:
        items = [signer.sign_digest(_digest(i), ALG) for i in range(2)]
        results = await asyncio.wait_for(
            asyncio.gather(
                *(batch.run(i) for i in [*items, failing_item(), late_item()]),
                return_exceptions=True,
            ),
            SECONDS,
        )
    assert prompter.closed.is_set()
    assert [getattr(r, "code", r) for r in results] == [
        "BATCH_ITEM_SKIPPED",
        "BATCH_ITEM_SKIPPED",
        "INPUT_INVALID",
        "BATCH_ITEM_SKIPPED",
    ]
    assert csc.server.state.authorize_calls == 0 and signer.authorizations == 0


async def test_a_stop_keeps_the_signatures_already_made(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    signer = remote_signer(service, credentials["org"])
    signed = asyncio.Event()

    async def first() -> bytes:
        signature = await signer.sign_digest(_digest(0), ALG)
        signed.set()
        return signature

    async def stopper() -> bytes:
        await signed.wait()
        batch.stop(KysoError("AUDIT_UNAVAILABLE", {"path": "audit.log"}))
        raise KysoError("AUDIT_UNAVAILABLE", {"path": "audit.log"})

    async def after_the_stop() -> bytes:
        await signed.wait()
        await asyncio.sleep(0)  # the stopper runs first
        return await signer.sign_digest(_digest(1), ALG)

    async with signer.collect(3) as batch:
        results = await asyncio.wait_for(
            asyncio.gather(
                batch.run(first()),
                batch.run(stopper()),
                batch.run(after_the_stop()),
                return_exceptions=True,
            ),
            SECONDS,
        )
    assert isinstance(results[0], bytes) and len(results[0]) == 256
    assert [getattr(r, "code", None) for r in results[1:]] == [
        "AUDIT_UNAVAILABLE",
        "AUDIT_UNAVAILABLE",
    ]
    assert csc.server.state.authorize_calls == 1


async def test_a_stop_during_an_authorisation_keeps_the_ones_before(
    csc: Any, service: RemoteService
) -> None:
    """One signature per authorisation, an OTP for each; the second and third digests are
    signed by one flush (submitted while the first was in flight). The batch is stopped while
    the third OTP is asked: the two signatures made reach their items."""
    csc.server.state.multisign = 1
    listed = await RemoteDirectory([service]).list_credentials()
    otp_credential = next(c for c in listed if c.credential_id.endswith("/personal_otp"))
    sms = SmsPrompter(csc.server)
    held = HeldPrompter()

    class TwoThenHeld:
        async def get_credential_secrets(
            self, request: CredentialPrompt
        ) -> CredentialSecrets | None:
            if len(sms.requests) < 2:
                return await sms.get_credential_secrets(request)
            return await held.get_credential_secrets(request)

    signer = remote_signer(service, otp_credential, TwoThenHeld())

    async def stopper() -> bytes:
        await held.opened.wait()
        batch.stop(KysoError("BATCH_ITEM_SKIPPED"))
        raise KysoError("INPUT_INVALID", {"detail": "broken item"})

    async with signer.collect(4) as batch:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(batch.run(signer.sign_digest(_digest(i), ALG)) for i in range(3)),
                batch.run(stopper()),
                return_exceptions=True,
            ),
            SECONDS,
        )
    assert all(isinstance(r, bytes) and len(r) == 256 for r in results[:2]), results
    assert [getattr(r, "code", None) for r in results[2:]] == [
        "BATCH_ITEM_SKIPPED",
        "INPUT_INVALID",
    ]
    assert csc.server.state.authorize_calls == 2 and held.closed.is_set()
