"""The agent half of the audit tests runs a real agent: reuse the server tests' harness. The
command-line half gives each test its own audit log (:func:`log_path`) and can break it
(:func:`break_log`)."""

import os
from pathlib import Path

import pytest

import agent.audit as audit_module  # not `agent`: the fixture of that name is imported below
from tests.server.conftest import (  # noqa: F401  (fixtures, registered by being imported)
    agent,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)


@pytest.fixture
def log_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own audit log (the session's state root is shared by every test)."""
    path = tmp_path / "logs" / "audit.jsonl"
    monkeypatch.setattr(audit_module, "default_path", lambda: path)
    return path


def break_log(log_path: Path) -> Path:
    """The log stops being writable: its file moved away (kept, to read what was recorded)
    and a folder put at its path, so opening it to append fails."""
    kept = log_path.with_name("kept.jsonl")
    if log_path.exists():
        os.replace(log_path, kept)
    log_path.mkdir(parents=True)
    return kept
