"""No signature without its record (docs/security.md, threat table): when the audit log cannot
be written (its path a folder, a read-only folder, a full disk), signing requests are refused
with AUDIT_UNAVAILABLE before any prompt. A write that fails after the key signed still returns
the signature (it exists); the next request is refused until the log can be written again.
Failures that opening the file does not show (a blocked rotation, a quota, EIO on fdatasync)
count too: the check after a failure is a real write of the records still waiting."""

from __future__ import annotations

import base64
import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

import agent.audit
from agent.audit import AuditLog, AuditRecord, rotated_paths
from tests.conftest import cert_thumbprint


def _params(demo, i: int) -> dict[str, str]:
    return {
        "digest": base64.b64encode(bytes([i]) * 32).decode(),
        "certificate": cert_thumbprint(demo, "org"),
    }


async def test_an_unwritable_log_refuses_signing_before_any_prompt(demo, agent) -> None:
    agent.audit.path.mkdir(parents=True)  # opening it for append fails (IsADirectoryError)
    client = await agent.client()
    reply = await client.request("sign.hash", _params(demo, 1))
    error = reply["error"]["data"]
    assert error["code"] == "AUDIT_UNAVAILABLE"
    assert error["details"]["path"] == str(agent.audit.path)
    assert agent.prompter.prompts == []  # no consent, no PIN
    # Reading methods still work; once the log is writable again, signing goes on.
    assert await client.call("tokens.list") is not None
    agent.audit.path.rmdir()
    assert "signature" in await client.call("sign.hash", _params(demo, 2))
    # The refusal's record waited in memory: written (late, in order) by the retry.
    assert [r["result"] for r in agent.audit_lines()] == ["AUDIT_UNAVAILABLE", "OK"]


async def test_a_failed_write_after_signing_returns_the_signature_then_refuses(demo, agent) -> None:
    client = await agent.client()
    assert "signature" in await client.call("sign.hash", _params(demo, 1))
    agent.audit.path.unlink()
    agent.audit.path.mkdir()  # the log breaks between two signatures
    # The check passed (the last write worked); the key signs; the record fails: the page
    # still gets its signature, which exists whatever the log says.
    assert "signature" in await client.call("sign.hash", _params(demo, 2))
    consents = sum(p.kind == "consent" for p in agent.prompter.prompts)
    reply = await client.request("sign.hash", _params(demo, 3))
    assert reply["error"]["data"]["code"] == "AUDIT_UNAVAILABLE"
    assert sum(p.kind == "consent" for p in agent.prompter.prompts) == consents


def _fill_to_rotation(audit: AuditLog) -> Path:
    """A log at its size limit (the next record rotates) whose oldest copy cannot be dropped:
    a folder sits at audit.jsonl.N. Opening the log still works; only a write shows it."""
    audit.max_bytes = 4096
    audit.path.write_bytes(b"{}\n" * (audit.max_bytes // 3))
    oldest = rotated_paths(audit.path, audit.keep)[-1]
    oldest.mkdir()
    (oldest / "x").write_text("")
    return oldest


async def test_a_blocked_rotation_refuses_before_any_prompt_then_signs_once_cleared(
    demo, agent
) -> None:
    oldest = _fill_to_rotation(agent.audit)
    client = await agent.client()
    for i in range(3):
        reply = await client.request("sign.hash", _params(demo, i))
        assert reply["error"]["data"]["code"] == "AUDIT_UNAVAILABLE"
    assert agent.prompter.prompts == []  # no consent, no PIN: nothing signed without a record
    shutil.rmtree(oldest)  # the user clears the folder: the next request signs, no waiting
    assert "signature" in await client.call("sign.hash", _params(demo, 9))
    records, _ = agent.audit.read()
    results = [r["result"] for r in reversed(records) if r.get("method") == "sign.hash"]
    assert results == ["AUDIT_UNAVAILABLE"] * 3 + ["OK"]  # the refusals too, stored late


async def test_a_rotation_blocked_after_signing_refuses_the_next_request(demo, agent) -> None:
    client = await agent.client()
    assert "signature" in await client.call("sign.hash", _params(demo, 1))
    _fill_to_rotation(agent.audit)  # breaks while the log is healthy
    # The key signs before the record is tried: that one signature is returned (it exists)
    # and its record waits; every request after it is refused until a write works.
    assert "signature" in await client.call("sign.hash", _params(demo, 2))
    consents = sum(p.kind == "consent" for p in agent.prompter.prompts)
    for i in (3, 4):
        reply = await client.request("sign.hash", _params(demo, i))
        assert reply["error"]["data"]["code"] == "AUDIT_UNAVAILABLE"
    assert sum(p.kind == "consent" for p in agent.prompter.prompts) == consents
    assert agent.audit.healthy is False


def _quota_on_write(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """EDQUOT from the write into the log only: a quota needs root setup, and opening the file
    or the free space never shows it (the narrowest seam: the write itself)."""
    real = os.write

    def write(fd: int, data: bytes) -> int:
        if log.path.exists() and os.path.samestat(os.fstat(fd), os.stat(log.path)):
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        return real(fd, data)

    monkeypatch.setattr(agent.audit.os, "write", write)


def _eio_on_sync(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """EIO from fdatasync: the bytes may not be on the disk, so the record is not stored."""

    def sync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(agent.audit, "_sync", sync)


@pytest.mark.parametrize("fault", [_quota_on_write, _eio_on_sync])
def test_a_write_failure_opening_does_not_show_keeps_the_log_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")

    def record(i: int, result: str = "OK") -> AuditRecord:
        return AuditRecord(
            origin="https://portal", method="sign.hash", result=result, request_id=str(i)
        )

    assert log.write(record(0)) and not log.unavailable()
    fault(log, monkeypatch)
    assert not log.write(record(1))  # the record of a signature already made
    for i in (2, 3, 4):
        assert log.unavailable()  # the file opens and the disk has room: still unavailable
        assert not log.write(record(i, "AUDIT_UNAVAILABLE"))  # the refusal: also the retry
    assert log.healthy is False
    monkeypatch.undo()  # quota raised, disk replaced
    assert not log.unavailable()  # the retry wrote what waited: signing goes on by itself
    ids = [r["request_id"] for r in reversed(log.read()[0])]
    # Every record is on file, in order (after EIO a record may be there twice: never lost).
    assert sorted(set(ids), key=ids.index) == ["0", "1", "2", "3", "4"]


def test_a_nearly_full_disk_counts_as_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AuditLog(tmp_path / "logs" / "audit.jsonl")
    assert not log.unavailable()  # a new log: its folder is made, it opens for append
    usage = namedtuple("usage", "total used free")
    # SoftHSM-style fakes are not possible for a disk: the narrowest seam is the free space.
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10**9, 10**9 - 100, 100))
    assert log.unavailable()
    monkeypatch.undo()
    assert log.write(AuditRecord(origin=None, method="sign-xml", result="OK", channel="cli"))
    assert log.healthy and not log.unavailable()


def test_the_path_a_page_sees_hides_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent.audit.Path, "home", lambda: tmp_path)
    log = AuditLog(tmp_path / "nguyenvanan" / "logs" / "audit.jsonl")
    assert log.shown_path() == str(Path("~", "nguyenvanan", "logs", "audit.jsonl"))


async def test_a_batch_stops_signing_once_an_items_record_fails(demo, agent) -> None:
    """The check runs once per request: a log that breaks during a batch must stop it at the
    first record that cannot be stored, not sign the remaining items without records."""
    client = await agent.client()
    assert "signature" in await client.call("sign.hash", _params(demo, 1))
    agent.audit.path.unlink()
    agent.audit.path.mkdir()  # breaks after the check: the first item signs, its record fails
    items = [{"kind": "hash", "digest": _params(demo, 10 + i)["digest"]} for i in range(4)]
    result = await client.call(
        "sign.batch", {"items": items, "certificate": cert_thumbprint(demo, "org")}
    )
    assert [r["ok"] for r in result["results"]] == [True, False, False, False]
    codes = [r["error"]["data"]["code"] for r in result["results"][1:]]
    assert codes == ["AUDIT_UNAVAILABLE"] * 3
    agent.audit.path.rmdir()
    assert await agent.audit.unavailable_async() is False  # the retry stores them, in order
    records, _ = agent.audit.read()
    batch = [r["result"] for r in reversed(records) if r.get("item") is not None]
    assert batch == ["OK"] + ["AUDIT_UNAVAILABLE"] * 3


async def test_a_refusals_record_is_written_on_the_logs_thread(
    demo, agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal's record goes through the writer thread like a signed one: in order with
    records still queued there, and a slow fdatasync never blocks the event loop."""
    import threading

    threads: list[str] = []
    real = agent.audit.write_many

    def watched(records: list[AuditRecord]) -> bool:
        if any(r.result != "OK" for r in records):
            threads.append(threading.current_thread().name)
        return real(records)

    monkeypatch.setattr(agent.audit, "write_many", watched)
    client = await agent.client()
    reply = await client.request("sign.hash", {"digest": 5, "extra": 1})  # refused: schema
    assert "error" in reply
    assert threads == ["kyso-audit"]
    assert agent.audit_lines()[-1]["outcome"] == "refused"
