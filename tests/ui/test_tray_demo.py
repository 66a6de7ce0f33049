"""`kyso-agent demo` with a display shows the tray: the icon docks into the session's tray host
(trayer under Xvfb), and Ctrl+C still stops everything cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.browser.harness import REPO, free_port
from tests.ui.test_tray import start_trayer, stop_trayer


def docked_kyso_icons() -> list[str]:
    """Names of the windows called "Kyso…" that a tray host has embedded (reparented): the
    X11 tray icon's name is its tooltip."""
    from Xlib import display

    conn = display.Display()
    try:
        root = conn.screen().root
        found: list[str] = []

        def walk(window: Any, parent_is_root: bool) -> None:
            for child in window.query_tree().children:
                name = child.get_wm_name()
                if isinstance(name, bytes):
                    name = name.decode("latin-1")
                if name and name.startswith("Kyso") and not parent_is_root:
                    found.append(name)
                walk(child, False)

        walk(root, True)
        return found
    finally:
        conn.close()


def _wait_for(path: Path, text: str, proc: subprocess.Popen[Any], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text(errors="replace")
        if text in out:
            return out
        assert proc.poll() is None, out
        time.sleep(0.2)
    raise AssertionError(path.read_text(errors="replace"))


def test_the_demo_shows_the_tray_when_there_is_a_display(
    xvfb: str, demo: dict[str, Any], kyso_home: Path, tmp_path: Path
) -> None:
    host = start_trayer()
    env = {
        **os.environ,
        "KYSO_HOME": str(kyso_home),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO),
    }
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the X11 icon: what trayer can embed
    env.pop("PYSTRAY_BACKEND", None)
    out = tmp_path / "demo.out"
    try:
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agent.cli.main", "demo", "--no-trust", "--fresh",
                 "--port", str(free_port()), "--smtp-port", str(free_port())],
                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                _wait_for(out, "Ctrl+C", proc)
                deadline = time.monotonic() + 60
                while not (icons := docked_kyso_icons()):
                    assert proc.poll() is None, out.read_text(errors="replace")
                    assert time.monotonic() < deadline, "the demo's tray icon never docked"
                    time.sleep(0.1)
                assert "USB token" in icons[0], icons  # the tray's tooltip: tokens and port
                proc.send_signal(signal.SIGINT)
                assert proc.wait(timeout=60) == 0, out.read_text(errors="replace")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    finally:
        stop_trayer(host)
    assert "Đã dừng" in out.read_text()
