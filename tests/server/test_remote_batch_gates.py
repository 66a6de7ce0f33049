"""A remote sign.batch keeps the per-item gates a token batch has (agent/server/commands/
batch.py): ``stop_on_error`` skips the items still waiting for their signature when one fails
on this side, and a record that could not be written means no further signature is handed out
nor authorised. Against the real CSC test service (multisign 10: all items in one
authorisation unless stopped). No timing: item 0 fails once the others wait at the provider's
collector, told by an event."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import pytest

from agent.demo.remote import DEMO_PIN, RunningService
from agent.errors import KysoError
from agent.server.commands.payloads import CmsPayload
from agent.signing.remote import RemoteSigner, _Collector
from tests.remote.conftest import csc, remote_pki, secret_file  # noqa: F401 - fixtures
from tests.server.conftest import Answers, Harness
from tests.server.test_remote_signing import _remote, remote_agent  # noqa: F401 - fixture

COUNT = 3
ITEMS = [
    {"kind": "cms", "data": base64.b64encode(f"item {i}".encode()).decode(), "detached": True}
    for i in range(COUNT)
]
FIRST = hashlib.sha256(b"item 0").hexdigest()
SECONDS = 60  # the test's own bound: it stops by itself
QUIET = 6 * _Collector.QUIET_SECONDS  # a quiet spell would have flushed the batch by then


def fail_first_once_others_wait(monkeypatch: pytest.MonkeyPatch, *, slow: bool = False) -> None:
    """Item 0 fails on this side (as a malformed PDF would), after items 1 and 2 have handed
    their digests to the remote signer and wait for their signatures; ``slow``: a while after
    (longer than the collector's quiet spell, as pyHanko failing on a big file)."""
    waiting = asyncio.Event()
    entered = 0
    real_digest = RemoteSigner.sign_digest
    real_sign = CmsPayload.sign

    async def sign_digest(self: RemoteSigner, digest_value: bytes, algorithm: Any) -> bytes:
        nonlocal entered
        entered += 1
        if entered == COUNT - 1:
            waiting.set()  # they reach the collector in this same turn of the loop
        return await real_digest(self, digest_value, algorithm)

    async def sign(self: CmsPayload, signer: Any) -> Any:
        if self.sha256 == FIRST:
            await waiting.wait()
            if slow:
                await asyncio.sleep(QUIET)
            raise KysoError("INPUT_INVALID", {"detail": "item 0 is broken"})
        return await real_sign(self, signer)

    monkeypatch.setattr(RemoteSigner, "sign_digest", sign_digest)
    monkeypatch.setattr(CmsPayload, "sign", sign)


async def _batch(harness: Harness, **extra: Any) -> dict[str, Any]:
    client = await harness.client()
    org = (await _remote(client))["org"]
    call = client.call("sign.batch", {"items": ITEMS, "certificate": org["thumbprint"], **extra})
    result: dict[str, Any] = await asyncio.wait_for(call, SECONDS)
    return result


def _codes(result: dict[str, Any]) -> list[str]:
    return [r["error"]["data"]["code"] if not r["ok"] else "OK" for r in result["results"]]


async def test_stop_on_error_skips_the_items_waiting_for_the_provider(
    remote_agent: Harness,  # noqa: F811
    answers: Answers,
    csc: RunningService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.set(remote_pin=DEMO_PIN)
    fail_first_once_others_wait(monkeypatch, slow=True)
    result = await _batch(remote_agent, stop_on_error=True)
    assert result["signed"] == 0, "stop_on_error: nothing signed after item 0 failed"
    assert _codes(result) == ["INPUT_INVALID", "BATCH_ITEM_SKIPPED", "BATCH_ITEM_SKIPPED"]
    assert csc.server.state.authorize_calls == 0  # the provider was never asked
    assert remote_agent.prompter.count("credential") == 0  # nor the PIN


async def test_without_stop_on_error_the_other_items_are_signed(
    remote_agent: Harness,  # noqa: F811
    answers: Answers,
    csc: RunningService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.set(remote_pin=DEMO_PIN)
    fail_first_once_others_wait(monkeypatch)
    result = await _batch(remote_agent)
    assert _codes(result) == ["INPUT_INVALID", "OK", "OK"]
    assert csc.server.state.authorize_calls == 1


async def test_no_signature_is_handed_out_after_a_record_failed(
    remote_agent: Harness,  # noqa: F811
    answers: Answers,
    csc: RunningService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.set(remote_pin=DEMO_PIN)
    audit = remote_agent.audit
    real = audit.write_async

    async def write_async(record: Any) -> bool:  # the disk fills once the batch has begun
        if getattr(record, "item", None) is not None:
            return False
        return await real(record)

    monkeypatch.setattr(audit, "write_async", write_async)
    result = await _batch(remote_agent)
    # The three were signed in one authorisation; the first to end is kept (as a token
    # batch keeps the signature whose record failed), the others are not handed out.
    assert result["signed"] == 1
    assert sorted(_codes(result)) == ["AUDIT_UNAVAILABLE", "AUDIT_UNAVAILABLE", "OK"]


async def test_a_failed_record_stops_the_items_waiting_for_the_provider(
    remote_agent: Harness,  # noqa: F811
    answers: Answers,
    csc: RunningService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.set(remote_pin=DEMO_PIN)
    fail_first_once_others_wait(monkeypatch)
    audit = remote_agent.audit
    real = audit.write_async

    async def write_async(record: Any) -> bool:
        if getattr(record, "item", None) == 0:
            return False  # item 0's (failure) record cannot be written
        return await real(record)

    monkeypatch.setattr(audit, "write_async", write_async)
    result = await _batch(remote_agent)
    assert _codes(result) == ["INPUT_INVALID", "AUDIT_UNAVAILABLE", "AUDIT_UNAVAILABLE"]
    assert csc.server.state.authorize_calls == 0  # stopped before the provider authorised
