"""kill -9 once a signed copy with a NEW name is written, before or after its audit record:
nothing is under the copy's name, so no signed file sits where a person opens it without its
record; the signed bytes are only in a hidden temporary file beside it.

(Red team: the copy was renamed to its name first and recorded second, so a crash, an OOM kill
or a power cut in between left a valid signature by the unit's key with no audit line.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agent.audit
from tests.audit.test_cli_force_kept import _KILLER, COMMANDS, REPO, _argv, _out
from tests.audit.test_cli_force_kept import work as work


@pytest.mark.timeout(180)
@pytest.mark.parametrize("when", ["before-record", "after-record"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_kill_around_the_record_leaves_nothing_under_the_new_name(
    command: str, when: str, demo: dict[str, Any], work: Path, tmp_path: Path
) -> None:
    out = _out(command, work)
    out.unlink()  # a new name this time: no --force
    argv = [a for a in _argv(command, demo, work) if a != "--force"]
    killer = tmp_path / "killer.py"
    killer.write_text(_KILLER)
    log = agent.audit.default_path()
    before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    proc = subprocess.run(
        [sys.executable, str(killer), when, *argv],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not out.exists()  # never a signed file under its name before its record
    hidden = [p.name for p in work.iterdir() if p.name.startswith(f".{out.name}.")]
    assert len(hidden) == 1 and hidden[0].endswith(".tmp")
    records = [json.loads(r) for r in log.read_text(encoding="utf-8").splitlines()[before:]]
    assert [r["result"] for r in records] == ([] if when == "before-record" else ["OK"])
