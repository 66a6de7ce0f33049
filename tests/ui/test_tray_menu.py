"""The real tray menu: pystray's GTK backend in a D-Bus session, docked in a real tray host
(trayer) under Xvfb, opened with a real right-click and photographed. (pystray's X11 backend
has no menu at all: this needs PyGObject.) What each entry does is tested on the controller."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.conftest import ARTIFACTS
from tests.ui.test_tray import start_trayer, stop_trayer

REPO = Path(__file__).resolve().parents[2]

# The agent side, in its own process (GTK wants its own main loop and a D-Bus session): the
# real tray over a stand-in agent with a real approvals file; it reports its state on stdout.
AGENT = r"""
import asyncio, json, sys
from pathlib import Path
from types import SimpleNamespace
from agent.server.approvals import ApprovalStore
from agent.ui.tray import attach_tray
from agent.ui.tray_control import TrayHooks

async def main() -> None:
    home = Path(sys.argv[1])
    approvals = ApprovalStore(home / "approvals.json")
    approvals.add("https://dichvucong.baohiemxahoi.gov.vn")
    services = SimpleNamespace(tokens=None, prompter=None, approvals=approvals,
                               signing_paused=False)
    agent = SimpleNamespace(port=27443, services=services)
    hooks = TrayHooks(trust_status=lambda: True, version="0.1.0")
    tray = await attach_tray(agent, lambda: None, hooks, prefs_path=home / "tray.json")
    assert tray is not None, "no tray"
    await asyncio.wait_for(tray.docked.wait(), 30)
    print("TRAY", json.dumps({"docked": True, "backend": type(tray.icon).__module__}), flush=True)
    last = None
    while True:
        if services.signing_paused != last:
            last = services.signing_paused
            print("TRAY", json.dumps({"paused": last}), flush=True)
        await asyncio.sleep(0.05)

asyncio.run(main())
"""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: install the Debian package {package} (./run.sh does)")
    return path


@pytest.fixture
def host(xvfb: str) -> Iterator[None]:
    proc = start_trayer()
    try:
        yield
    finally:
        stop_trayer(proc)


def popups() -> list[tuple[int, int, int, int]]:
    """Geometry of every mapped override-redirect window (GTK menus are such popups)."""
    from Xlib import X, display

    conn = display.Display()
    try:
        found = []
        for window in conn.screen().root.query_tree().children:
            attrs = window.get_attributes()
            if attrs.override_redirect and attrs.map_state == X.IsViewable:
                g = window.get_geometry()
                if g.width > 40 and g.height > 40:
                    found.append((g.x, g.y, g.width, g.height))
        return found
    finally:
        conn.close()


def tray_icon_position() -> tuple[int, int]:
    """The centre of trayer's panel, where its only icon sits."""
    xdotool = _tool("xdotool", "xdotool")
    out = subprocess.run(
        [xdotool, "search", "--onlyvisible", "--class", "trayer"], capture_output=True, text=True
    ).stdout.split()
    assert out, "trayer has no visible window"
    geometry = subprocess.run(
        [xdotool, "getwindowgeometry", "--shell", out[0]], capture_output=True, text=True
    ).stdout
    v = dict(line.split("=", 1) for line in geometry.split())
    return int(v["X"]) + int(v["WIDTH"]) // 2, int(v["Y"]) + int(v["HEIGHT"]) // 2


def read_event(proc: subprocess.Popen[str], key: str, timeout: float = 60) -> dict:
    """The next line the agent prints that has ``key``; fails after ``timeout`` (the lines are
    read on a thread, so a silent agent cannot block the test)."""
    lines = _lines(proc)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            pytest.fail(f"the tray process ended: {proc.stderr.read() if proc.stderr else ''}")
        if not line.startswith("TRAY "):
            continue  # the D-Bus session's own messages
        data = json.loads(line[5:])
        if key in data:
            return data
    pytest.fail(f"the tray never reported {key}")


_READERS: dict[int, queue.Queue[str | None]] = {}


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """One reader thread per process, feeding its stdout lines (None at the end) to a queue."""
    if proc.pid not in _READERS:
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for line in proc.stdout or ():
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        _READERS[proc.pid] = lines
    return _READERS[proc.pid]


def test_right_click_opens_the_real_menu(host, tmp_path) -> None:
    dbus = _tool("dbus-run-session", "dbus")
    xdotool = _tool("xdotool", "xdotool")
    env = {**os.environ, "PYSTRAY_BACKEND": "gtk", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [dbus, "--", sys.executable, "-c", AGENT, str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # its own group: the bus and the accessibility bus end with it
    )  # fmt: skip
    try:
        ready = read_event(proc, "docked")
        assert ready["backend"].endswith("_gtk"), ready
        assert read_event(proc, "paused") == {"paused": False}
        x, y = tray_icon_position()
        deadline = time.monotonic() + 30
        while not popups():  # the icon may need a moment to be embedded: click until it opens
            assert time.monotonic() < deadline, "right-click did not open the menu"
            subprocess.run([xdotool, "mousemove", "--sync", str(x), str(y), "click", "3"])
            opened = time.monotonic() + 3  # a second click would close it again: wait first
            while not popups() and time.monotonic() < opened:
                time.sleep(0.05)
        (mx, my, mw, mh) = popups()[0]
        from PIL import ImageGrab

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ImageGrab.grab(bbox=(mx, my, mx + mw, my + mh), xdisplay=os.environ["DISPLAY"])
        shot.save(ARTIFACTS / "tray-menu.png")
        assert mh > 200  # status, tokens, sign files, journal, sites, pause, ..., quit
        # What each entry does is tested on the controller (test_tray_model.py): a keyboard walk
        # through a GTK popup depended on focus timing and hung CI once.
        subprocess.run([xdotool, "key", "Escape"])
    finally:
        # dbus-run-session's bus daemon (and the at-spi bus GTK starts on it) would outlive a
        # plain terminate: end the whole process group this test started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
