"""The tray icon: headless fallbacks, and docking into a real tray host under Xvfb — also when
the host starts after the agent or is restarted (a fresh session)."""

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
from agent.ui.tray import Tray, attach_tray, detach_tray, run_with_tray, x11_embedded, x11_tray_host
from agent.ui.tray_control import TrayHooks


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


def start_trayer() -> subprocess.Popen[bytes]:
    """trayer, a small XEmbed system tray, on the test display; returns once it owns the tray."""
    binary = shutil.which("trayer")
    if binary is None:
        pytest.fail("trayer is missing: install the Debian package trayer (./run.sh test does)")
    proc = subprocess.Popen(
        [binary, "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while x11_tray_host() is None:
        assert time.monotonic() < deadline, "trayer did not start"
        time.sleep(0.05)
    return proc


def stop_trayer(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def tray_host(xvfb: str) -> Iterator[None]:
    """A tray host running before the agent starts."""
    proc = start_trayer()
    try:
        yield
    finally:
        stop_trayer(proc)


def icon_docked(tray: Tray) -> bool:
    """True when the icon's X window was embedded (reparented) by the tray host."""
    return x11_embedded(tray.icon)


async def test_the_icon_docks_when_the_tray_host_starts_later_or_restarts(
    xvfb: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr("agent.ui.tray.DOCK_POLL_SECONDS", 0.1)
    agent = SimpleNamespace(port=27443, services=SimpleNamespace(tokens=None, prompter=None))
    hooks = TrayHooks(trust_status=lambda: True)
    tray = await attach_tray(agent, lambda: None, hooks, prefs_path=tmp_path / "tray.json")
    assert tray is not None and not tray.docked.is_set()  # no host yet: waiting, not gone
    try:
        first = start_trayer()  # the session's tray host appears after the agent
        try:
            await asyncio.wait_for(tray.docked.wait(), 20)
            host = x11_tray_host()
            assert host is not None and tray.visible
            await asyncio.to_thread(wait_until, lambda: icon_docked(tray))
        finally:
            stop_trayer(first)
        second = start_trayer()  # the panel restarts: the icon comes back
        try:
            new_host = x11_tray_host()
            assert new_host is not None
            await asyncio.to_thread(wait_until, lambda: icon_docked(tray))
        finally:
            stop_trayer(second)
    finally:
        detach_tray(tray)


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


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
    hooks = TrayHooks(trust_status=lambda: True)
    tray = await attach_tray(agent, quit_event.set, hooks, prefs_path=tmp_path / "tray.json")
    assert tray is not None
    await asyncio.wait_for(tray.docked.wait(), 20)
    try:
        assert tray.visible
        assert len(tray.state.tokens) == plugged and tray.state.scripted
        assert tray.state.tokens[0].certificates  # the certificates on the token are listed
        tray.trigger("quit")  # as the menu would, from the tray thread
        await asyncio.wait_for(quit_event.wait(), 5)
    finally:
        detach_tray(tray)

    # run_with_tray: start, serve until stop is set, then stop the agent.
    stop = asyncio.Event()

    async def start() -> Agent:
        asyncio.get_running_loop().call_soon(stop.set)  # "Quit" once serving has begun
        return agent

    await asyncio.wait_for(run_with_tray(start, stop=stop, hooks=hooks), 10)
    assert stopped == [True]
