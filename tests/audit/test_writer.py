"""The audit log's own writer thread: the agent awaits each record on it (no thread-pool hop),
records that wait together share one fsync, and a record is on disk before the answer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.audit import AuditLog, AuditRecord


def _record(number: int) -> AuditRecord:
    return AuditRecord(origin="https://a.test", method="sign.hash", result="OK", item=number)


def _items(path: Path) -> list[int]:
    return [json.loads(line)["item"] for line in path.read_text().splitlines()]


async def test_records_awaited_together_are_all_written_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    syncs: list[int] = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        syncs.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    assert await log.write_async(_record(0))
    assert _items(log.path) == [0] and len(syncs) == 1
    results = await asyncio.gather(*(log.write_async(_record(i)) for i in range(1, 101)))
    assert all(results)
    assert _items(log.path) == list(range(101))
    assert len(syncs) < 101  # the waiting records shared fsyncs
    log.close()
    assert await log.write_async(_record(101))  # a closed log starts its writer again
    assert _items(log.path)[-1] == 101
    log.close()


async def test_a_log_that_cannot_be_written_answers_false_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = AuditLog(blocker / "audit.jsonl")  # its folder is a file: every write fails
    assert await asyncio.wait_for(log.write_async(_record(0)), 10) is False
    log.close()


async def test_the_agent_writes_its_records_on_the_logs_thread_before_answering(
    demo: dict[str, Any], agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(*_: Any, **__: Any) -> Any:
        raise AssertionError("the audit record went through the default thread pool")

    monkeypatch.setattr(asyncio, "to_thread", no_pool)
    written: list[int] = []
    real = agent.audit.write_many

    def recording(records: list[AuditRecord]) -> bool:
        ok = real(records)
        written.append(len(agent.audit_lines()))
        return ok

    monkeypatch.setattr(agent.audit, "write_many", recording)
    client = await agent.client()
    digest = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    thumb = demo["certificates"]["org"]["thumbprint"]
    await client.call("sign.hash", {"digest": digest, "certificate": thumb})
    # On disk when the answer came: the page never holds a signature the log does not show.
    assert written == [1] and agent.audit_lines()[0]["result"] == "OK"


async def test_the_check_before_a_signature_runs_on_the_logs_thread_until_the_log_is_healthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first record, or while writes fail, "can a record be stored?" is a real write
    with fdatasync: a slow or failing disk must not stall the event loop (every page)."""
    import threading

    log = AuditLog(tmp_path / "audit.jsonl")
    threads: list[str] = []
    real = log.unavailable

    def watched() -> bool:
        threads.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(log, "unavailable", watched)
    try:
        assert await log.unavailable_async() is False  # before any record: a real check
        assert threads == ["kyso-audit"]
        assert await log.write_async(_record(0))
        assert await log.unavailable_async() is False
        assert threads == ["kyso-audit"]  # a record stored: known healthy, no check at all
        log.path.unlink()
        log.path.mkdir()  # now nothing can be written there
        assert await log.write_async(_record(1)) is False
        assert await log.unavailable_async() is True
        assert threads == ["kyso-audit", "kyso-audit"]
    finally:
        log.close()


def test_refusals_piling_up_while_the_log_fails_never_push_out_a_signed_record(
    tmp_path: Path,
) -> None:
    """A page sending refused requests while the log cannot be written must not crowd out
    the record of a signature made meanwhile: past the limit, refusals are dropped first."""
    import agent.audit

    log = AuditLog(tmp_path / "audit.jsonl")
    log.path.mkdir()  # nothing can be written
    refused = AuditRecord(origin="https://a.test", method="sign.hash", result="AUDIT_UNAVAILABLE")
    log.write(_record(0))  # a signature made as the log broke
    for _ in range(agent.audit.MAX_PENDING + 100):
        log.write(refused)
    log.write(_record(1))  # the key signed (its consent was open before)
    log.path.rmdir()
    assert log.unavailable() is False  # the retry writes what was kept
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert len(lines) == agent.audit.MAX_PENDING
    assert [r["item"] for r in lines if r["result"] == "OK"] == [0, 1]
    assert lines[0]["item"] == 0 and lines[-1]["item"] == 1  # the order is kept
