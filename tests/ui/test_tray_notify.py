"""The "a page is waiting for you" notification reaches a real notification daemon (dunst, on a
private D-Bus session bus under Xvfb), in the language chosen in the tray's Settings — and a
change of language applies to the next notification without a restart."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.ui.tray_model import text

REPO = Path(__file__).resolve().parents[2]

# The agent side in its own process (GTK's main loop, the session bus): the real tray over a
# stand-in agent whose prompter says yes; the test drives it with one command per stdin line.
AGENT = r"""
import asyncio, json, sys
from pathlib import Path
from types import SimpleNamespace
from agent.ui.tray import attach_tray
from agent.ui.tray_control import TrayHooks

class Prompter:
    name = "dialogs"

    async def consent(self, request):
        return True

async def main() -> None:
    home = Path(sys.argv[1])
    services = SimpleNamespace(tokens=None, prompter=Prompter(), approvals=None,
                               signing_paused=False)
    agent = SimpleNamespace(port=27443, services=services)
    hooks = TrayHooks(trust_status=lambda: True)  # no trust offer: only the notices we ask for
    tray = await attach_tray(agent, lambda: None, hooks, prefs_path=home / "tray.json")
    assert tray is not None, "no tray"
    await asyncio.wait_for(tray.docked.wait(), 30)
    print("TRAY", json.dumps({"backend": type(tray.icon).__module__}), flush=True)
    while line := (await asyncio.to_thread(sys.stdin.readline)).strip():
        if line == "consent":  # what a page's sign request does before the dialog opens
            await services.prompter.consent(None)
        else:
            tray.controller.handle(line)  # a menu click, e.g. language:en
        print("TRAY", json.dumps({"done": line}), flush=True)

asyncio.run(main())
"""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: install the Debian package {package} (./run.sh does)")
    return path


def _reader(stream) -> queue.Queue[str | None]:
    """Lines of ``stream`` on a queue (None at the end), read on a thread: a silent process
    cannot block the test."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next(lines: queue.Queue[str | None], match, what: str, timeout: float = 60) -> str:
    """The next line for which ``match`` is true; fails after ``timeout`` or at the end."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            pytest.fail(f"the process ended before {what}")
        if match(line):
            return line
    pytest.fail(f"never saw {what}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def session_bus(xvfb: str) -> Iterator[str]:
    """A private D-Bus session bus (under Xvfb, for dunst); yields its address."""
    bus = subprocess.Popen(
        [_tool("dbus-daemon", "dbus-daemon"), "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        assert address.startswith("unix:"), address
        yield address
    finally:
        _stop(bus)


@pytest.fixture
def dunst(session_bus: str, tmp_path: Path) -> Iterator[queue.Queue[str | None]]:
    """dunst on the private bus, printing every notification it receives; yields its lines."""
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": session_bus,
        "XDG_CONFIG_HOME": str(tmp_path / "dunst-config"),  # the system dunstrc only
    }
    proc = subprocess.Popen(
        [_tool("dunst", "dunst"), "-print"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        # Wait until dunst owns the name: a Notify sent before would make the bus start another
        # daemon from its service file, whose output this test would not see.
        ask = [
            _tool("dbus-send", "dbus-bin"),
            f"--bus={session_bus}",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.Notifications",
        ]
        deadline = time.monotonic() + 30
        while "boolean true" not in subprocess.run(ask, capture_output=True, text=True).stdout:
            assert proc.poll() is None, "dunst exited"
            assert time.monotonic() < deadline, "dunst never took org.freedesktop.Notifications"
            time.sleep(0.05)
        assert proc.stdout is not None
        yield _reader(proc.stdout)
    finally:
        _stop(proc)


def _body(line: str) -> bool:
    return line.strip().startswith("body: ")


def test_waiting_notice_reaches_the_daemon_in_the_chosen_language(
    session_bus: str, dunst: queue.Queue[str | None], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": session_bus,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "NO_AT_BRIDGE": "1",  # no accessibility bus: nothing else on this private bus
    }
    env.pop("PYSTRAY_BACKEND", None)  # the tray's own choice, as in a desktop session
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert agent.stdout is not None and agent.stdin is not None
        out = _reader(agent.stdout)
        ready = json.loads(_next(out, lambda s: s.startswith("TRAY "), "the tray")[5:])
        assert ready["backend"].endswith("_appindicator"), ready  # menus and notifications

        def ask(command: str) -> None:
            agent.stdin.write(command + "\n")
            agent.stdin.flush()
            _next(
                out,
                lambda s: s.startswith("TRAY ") and json.loads(s[5:]).get("done") == command,
                command,
            )

        # Vietnamese by default: a page asks, the daemon shows the notice in Vietnamese.
        ask("consent")
        body = _next(dunst, _body, "the Vietnamese notification")
        assert text("waiting", "vi") in body, body
        # English chosen in Settings → Language: the next notice is in English.
        ask("language:en")
        ask("consent")
        body = _next(dunst, _body, "the English notification")
        assert text("waiting", "en") in body, body
        assert json.loads((tmp_path / "tray.json").read_text())["language"] == "en"
    finally:
        if agent.stdin is not None:
            agent.stdin.close()
        _stop(agent)
        for stream in (agent.stdout, agent.stderr):
            if stream is not None:
                stream.close()
