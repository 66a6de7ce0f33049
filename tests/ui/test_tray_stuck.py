"""A stuck tray backend never stops the agent: updates are queued off the event loop, and
stopping the icon gives up after a bounded wait so the next icon can be shown.

python-xlib can deadlock pystray's X11 icon thread when the tray host restarts while the icon
is being stopped (seen once in CI); that race cannot be produced on demand, so the stand-in
below is a pystray whose calls from other threads never return — the narrowest seam.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from agent.ui.tray import Tray, TrayState
from agent.ui.tray_calls import IconCalls

HANG_GUARD = 10  # seconds; only to fail instead of hanging the suite


class StuckIcon:
    """An icon that shows itself, then hangs every call made from another thread."""

    HAS_NOTIFICATION = True
    made: ClassVar[list[StuckIcon]] = []

    def __init__(self, name: str, image: Any, title: str, menu: Any = None) -> None:
        self._title = title
        self.visible = False
        self.stuck = threading.Event()  # never set: the icon thread is deadlocked
        self.stop_called = threading.Event()
        StuckIcon.made.append(self)

    def run(self, setup: Any) -> None:
        setup(self)
        self.stuck.wait()

    @property
    def title(self) -> str:
        return self._title

    @title.setter
    def title(self, value: str) -> None:
        self.stuck.wait()

    def update_menu(self) -> None:
        self.stuck.wait()

    def notify(self, message: str, title: str) -> None:
        self.stuck.wait()

    def stop(self) -> None:
        self.stop_called.set()
        self.stuck.wait()


class Menu:
    SEPARATOR = object()

    def __init__(self, *items: Any) -> None:
        self.items = items


def stuck_pystray() -> Any:
    return SimpleNamespace(Icon=StuckIcon, Menu=Menu, MenuItem=lambda *a, **k: (a, k))


def returns(call: Any) -> bool:
    """True when ``call`` returned (in a helper thread) within the hang guard."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    return not thread.is_alive()


def test_a_stuck_icon_neither_blocks_updates_nor_stopping_and_a_new_icon_takes_over(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("agent.ui.tray.STOP_WAIT_SECONDS", 0.2)
    StuckIcon.made.clear()
    tray = Tray(stuck_pystray(), TrayState(port=27443))
    assert tray.start()
    first = StuckIcon.made[-1]

    # A token plugged in, a notice: the event loop would call these; they must return.
    assert returns(lambda: tray.update(TrayState(port=27444)))
    assert returns(lambda: tray.notify("hello"))
    assert tray.state.port == 27444

    with caplog.at_level(logging.WARNING, logger="agent.ui.tray"):
        assert returns(tray.stop)  # quitting, or re-docking after the tray host restarted
    assert "did not stop" in caplog.text

    assert tray.start()  # the re-dock: a fresh icon with its own worker
    second = StuckIcon.made[-1]
    assert second is not first and tray.visible
    assert returns(tray.stop)
    assert second.stop_called.wait(HANG_GUARD)  # the new icon's calls run: not queued
    # behind the stuck one


async def test_the_event_loop_keeps_serving_while_the_icon_is_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("agent.ui.tray.STOP_WAIT_SECONDS", 0.2)
    tray = Tray(stuck_pystray(), TrayState(port=27443))
    assert await asyncio.to_thread(tray.start)
    for port in range(27444, 27450):
        tray.update(TrayState(port=port))  # on the loop, as TrayController does
        await asyncio.sleep(0)
    assert tray.state.port == 27449
    await asyncio.to_thread(tray.stop)


def test_queued_calls_run_in_order_and_a_newer_update_replaces_a_waiting_one() -> None:
    calls = IconCalls()
    gate = threading.Event()
    ran: list[str] = []
    calls.submit("block", gate.wait)
    calls.submit("update", lambda: ran.append("update 1"))
    calls.submit("notice", lambda: ran.append("notice"))
    calls.submit("update", lambda: ran.append("update 2"))  # supersedes "update 1"
    failed = calls.submit("boom", lambda: 1 / 0)  # logged, never kills the worker
    last = calls.submit("last", lambda: ran.append("last"))
    gate.set()
    assert last.wait(HANG_GUARD) and failed.is_set()
    assert ran == ["notice", "update 2", "last"]
    calls.close()
    assert calls.submit("after close", lambda: ran.append("late")).is_set()
    assert "late" not in ran
