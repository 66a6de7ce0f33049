"""Logout or shutdown while "Ký tệp hồ sơ…" signs (SIGTERM, SIGHUP): the batch stops after the
file it is on, every file not signed gets its USER_CANCELLED record, and the progress window
closes so the result window can say what was done. Before, the stop signal's
KeyboardInterrupt ended the window's poll for good: the process hung on the progress window,
which nothing could close, until the session manager killed it."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.audit import AuditLog
from agent.cli.filesign_cmd import sign_plans
from agent.ui.filesign import plan_files
from agent.ui.filesign_view import Options, run_with_progress
from agent.ui.scripted import ScriptedPrompter
from tests.signing_xml.helpers import HOSO
from tests.ui.test_filesign import answers


async def test_a_stop_between_files_cancels_the_rest_on_record(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "hoso"
    folder.mkdir()
    for name in ("a.xml", "b.xml", "c.xml"):
        (folder / name).write_bytes(HOSO)
    steps: list[str] = []
    results = await sign_plans(
        plan_files(sorted(folder.iterdir())),
        Options(confirmed=True, out_dir=None),
        ScriptedPrompter(answers(tmp_path, demo)),
        progress=lambda done, total, name: steps.append(name),
        stopping=lambda: len(steps) >= 1,  # asked to stop once the first file is under way
    )
    outcome = {Path(r["file"]).name: (r.get("error") or {}).get("code", "OK") for r in results}
    assert outcome == {"a.xml": "OK", "b.xml": "USER_CANCELLED", "c.xml": "USER_CANCELLED"}
    assert not (folder / "b_signed.xml").exists() and (folder / "a_signed.xml").exists()
    records, _ = AuditLog().read()
    mine = {r["file"]: r["result"] for r in records if r.get("method") == "sign-files"}
    assert mine["b.xml"] == mine["c.xml"] == "USER_CANCELLED" and mine["a.xml"] == "OK"


@pytest.mark.timeout(60)  # the bug was a hang: the window waited for ever
def test_the_progress_window_closes_after_a_stop_signal(xvfb: str) -> None:
    import tkinter as tk

    root = tk.Tk()
    root.withdraw()
    seen: list[bool] = []

    def work(events: Any, stop: threading.Event) -> str:
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGTERM)  # logout: the session manager's first signal
        seen.append(stop.wait(10))
        return "stopped between files"

    def as_the_command_does(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # agent.cli.main's handler in a command without a loop

    before = signal.signal(signal.SIGTERM, as_the_command_does)
    try:
        started = time.monotonic()
        assert run_with_progress(root, "vi", work) == "stopped between files"
        assert seen == [True] and time.monotonic() - started < 10
        assert signal.getsignal(signal.SIGTERM) is as_the_command_does  # put back
    finally:
        signal.signal(signal.SIGTERM, before)
        root.destroy()
