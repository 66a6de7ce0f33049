"""The tray icon: menu text, headless fallbacks, and docking into a real tray host under Xvfb."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from agent.ui.scripted import ScriptedPrompter
from agent.ui.tray import TrayStatus, attach_tray, detach_tray, menu_model, run_with_tray, tooltip


def test_menu_shows_port_tokens_and_a_loud_scripted_line() -> None:
    labels = [e.label for e in menu_model(TrayStatus(port=27443, tokens=2))]
    assert labels[0] == "Kyso đang chạy / running — cổng / port 27443"
    assert labels[1] == "USB token: 2"
    assert "Thoát / Quit" in labels and not any("scripted" in label for label in labels)
    actions = [e.action for e in menu_model(TrayStatus(27443, 0)) if e.action]
    assert actions == ["trust", "open_log", "quit"]
    scripted = [e.label for e in menu_model(TrayStatus(27443, 1, scripted=True))]
    assert any("Trả lời tự động" in label for label in scripted)
    assert tooltip(TrayStatus(27444, 1)).encode("latin-1")  # X11 window names are Latin-1


def test_no_display_means_headless_not_a_crash() -> None:
    # A DISPLAY that names no server makes `import pystray` raise an Xlib error.
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING)\n"
        "from agent.ui.tray import load_pystray\n"
        "print('RESULT', load_pystray())\n"
    )
    env = {**os.environ, "DISPLAY": ":4242"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert "RESULT None" in out.stdout, out.stderr
    assert "running headless" in out.stderr


@pytest.fixture
def tray_host(xvfb: str) -> Iterator[None]:
    """trayer, a small XEmbed system tray, on the test display."""
    binary = shutil.which("trayer")
    if binary is None:
        pytest.fail("trayer is missing: install the Debian package trayer (./run.sh test does)")
    proc = subprocess.Popen(
        [binary, "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from agent.ui.tray import x11_tray_host_present

        deadline = time.monotonic() + 10
        while not x11_tray_host_present():
            assert time.monotonic() < deadline, "trayer did not start"
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


async def test_without_a_tray_host_the_agent_runs_headless(xvfb: str) -> None:
    agent = SimpleNamespace(port=27443, services=SimpleNamespace(tokens=None, prompter=None))
    assert await attach_tray(agent, lambda: None) is None


async def test_tray_docks_counts_real_tokens_and_quits(tray_host, token_service, tmp_path) -> None:
    stopped: list[bool] = []

    class Agent:
        port = 27443
        services = SimpleNamespace(
            tokens=token_service, prompter=ScriptedPrompter(tmp_path / "a.json")
        )

        async def stop(self) -> None:
            stopped.append(True)

    agent = Agent()
    plugged = len(await token_service.list_tokens())
    assert plugged >= 1
    quit_event = asyncio.Event()
    tray = await attach_tray(agent, quit_event.set)
    assert tray is not None and tray.icon.visible
    try:
        assert tray.status == TrayStatus(27443, plugged, scripted=True)
        tray.trigger("quit")  # as the menu would, from the tray thread
        await asyncio.wait_for(quit_event.wait(), 5)
    finally:
        detach_tray(tray)

    # run_with_tray: start, serve until stop is set, then stop the agent.
    stop = asyncio.Event()

    async def start() -> Agent:
        asyncio.get_running_loop().call_soon(stop.set)  # "Quit" once serving has begun
        return agent

    await asyncio.wait_for(run_with_tray(start, stop=stop), 10)
    assert stopped == [True]
