"""No signature without its record (docs/security.md, threat table): when the audit log cannot
be written (its path a folder, a read-only folder, a full disk), signing requests are refused
with AUDIT_UNAVAILABLE before any prompt. A write that fails after the key signed still returns
the signature (it exists); the next request is refused until the log can be written again."""

from __future__ import annotations

import base64
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

import agent.audit
from agent.audit import AuditLog, AuditRecord
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
    assert [r["result"] for r in agent.audit_lines()] == ["OK"]


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
