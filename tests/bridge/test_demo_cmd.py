"""`kyso-agent demo` (the README's `./run.sh demo`): it starts, serves the portal over HTTPS
with the bridge, says what to do, and stops cleanly on Ctrl+C."""

from __future__ import annotations

import os
import shlex
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from agent.cli.demo_run import choose_prompter
from tests.browser.harness import REPO, free_port


def test_prompter_follows_the_display() -> None:
    """Dialogs when a display exists, the terminal otherwise; never the scripted prompter."""
    assert choose_prompter(None, {"DISPLAY": ":0"}) == "dialog"
    assert choose_prompter(None, {"WAYLAND_DISPLAY": "wayland-0"}) == "dialog"
    assert choose_prompter(None, {}) == "terminal"
    assert choose_prompter("terminal", {"DISPLAY": ":0"}) == "terminal"


def _wait_for(path: Path, text: str, proc: subprocess.Popen[Any], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text(errors="replace")
        if text in out:
            return out
        assert proc.poll() is None, out
        time.sleep(0.2)
    raise AssertionError(path.read_text(errors="replace"))


def test_demo_starts_serves_and_stops_on_ctrl_c(
    demo: dict[str, Any], kyso_home: Path, tmp_path: Path
) -> None:
    """The demo prints the portal URL and steps, serves the portal and the bridge over HTTPS
    (its own CA, not the agent's), and exits 0 on SIGINT."""
    port, smtp = free_port(), free_port()
    env = {
        **os.environ,
        "KYSO_HOME": str(kyso_home),
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DISPLAY", None)
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent.cli.main",
                "demo",
                "--no-trust",
                "--fresh",
                "--port",
                str(port),
                "--smtp-port",
                str(smtp),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            text = _wait_for(out, "Ctrl+C", proc)
            assert f"https://127.0.0.1:{port}/" in text
            assert "123456" in text and "KYSO DEMO 1" in text
            # --no-trust says how to do it by hand, naming this run's agent and KYSO_HOME
            assert " trust install" in text and f"KYSO_HOME={shlex.quote(str(kyso_home))}" in text
            ca = kyso_home / "demo" / "portal-tls" / "portal-ca.pem"
            context = ssl.create_default_context(cafile=str(ca))
            for path in ("/", "/kyso-bridge/kyso-bridge.mjs", "/static/portal-sign.js"):
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}{path}", context=context
                ) as r:
                    assert r.status == 200, path
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
            assert "Đã dừng" in out.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
