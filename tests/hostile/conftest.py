"""Run the real CLI in a child process, killed at a deadline (a hang is a failure, not a
stuck test run), memory capped so a bomb cannot take the machine down."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.builders import self_signed_ca

MEMORY_CAP = 2 * 1024**3  # address space of the child


@dataclass
class Outcome:
    code: int | None  # None: killed at the deadline
    seconds: float
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_cli(*args: str, deadline: float, home: Path) -> Outcome:
    """``kyso-agent ARGS`` in a child process (state under ``home``)."""
    return _run_child(["-m", "agent.cli", *args], deadline, {"KYSO_HOME": str(home)})


def run_python(script: str, *args: str, deadline: float) -> Outcome:
    """``python -c SCRIPT ARGS`` in a child process."""
    return _run_child(["-c", script, *args], deadline, {})


def _run_child(argv: list[str], deadline: float, env: dict[str, str]) -> Outcome:
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, *argv],
            capture_output=True,
            text=True,
            timeout=deadline,
            env={**os.environ, **env},
            preexec_fn=_cap,
        )
    except subprocess.TimeoutExpired as exc:
        return Outcome(None, time.monotonic() - start, str(exc.stdout or ""), str(exc.stderr or ""))
    return Outcome(done.returncode, time.monotonic() - start, done.stdout, done.stderr)


@pytest.fixture
def ca(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_ca(tmp_path)
