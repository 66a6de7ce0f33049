"""The tray icon and its menu, for the person who lives with the agent.

The menu is built from the pure model in ``agent/ui/tray_model.py`` (status, tokens and their
certificates, allowed sites with "revoke", pause, file signing, the signing journal, trust,
log folder, settings, version, quit). The icon runs in its own thread (pystray's loop); menu
actions are handed to the agent's event loop, where the agent's state lives.

Where there is no tray (no display: ``import pystray`` raises an Xlib error, not an ImportError;
macOS, whose tray must own the main thread) the agent simply runs headless and says so in the
log. Where the X11 tray host is missing or starts after the agent (a fresh session), a watcher
waits for it and docks the icon when it appears — and again if the host is restarted, because
pystray's X11 backend gives up after one failed attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from agent.ui.tray_backend import choose_backend, log_backend
from agent.ui.tray_calls import IconCalls
from agent.ui.tray_control import TrayController, TrayHooks, open_folder
from agent.ui.tray_model import SEPARATOR, MenuEntry, TrayState, menu_model, tooltip

log = logging.getLogger(__name__)

__all__ = [
    "AgentLike",
    "Tray",
    "TrayHooks",
    "TrayState",
    "attach_tray",
    "detach_tray",
    "load_pystray",
    "menu_model",
    "open_folder",
    "run_with_tray",
    "tooltip",
]

DOCK_POLL_SECONDS = 1.0
STOP_WAIT_SECONDS = 5.0  # a stuck icon is left behind after this (agent/ui/tray_calls.py)
_LEFT_BEHIND: list[Any] = []


class AgentLike(Protocol):
    """What the tray needs from agent.server.runner.RunningAgent."""

    port: int
    services: Any  # .tokens, .prompter, .approvals, .signing_paused

    async def stop(self) -> None:
        """Stop the agent."""
        ...


def load_pystray() -> Any | None:
    """pystray, or None where no tray can exist (logged, never raised). On Linux the backend
    is chosen explicitly and logged (agent/ui/tray_backend.py)."""
    if sys.platform == "darwin":
        log.warning("tray: on macOS the tray needs the main thread; running without a tray icon")
        return None
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        log.warning("tray: no display; running headless (no tray icon)")
        return None
    choice = choose_backend()
    try:
        import pystray
    except Exception as exc:  # Xlib.error.DisplayNameError and friends, or pystray missing
        log.warning("tray: unavailable (%s); running headless (no tray icon)", exc)
        return None
    log_backend(pystray, choice)
    return pystray


def x11_tray_host() -> int | None:
    """The window id owning the X11 system tray selection (_NET_SYSTEM_TRAY_Sn), or None."""
    try:
        from Xlib import X, display

        conn = display.Display()
    except Exception:
        return None
    try:
        atom = conn.intern_atom(f"_NET_SYSTEM_TRAY_S{conn.get_default_screen()}")
        owner = conn.get_selection_owner(atom)
        return None if owner == X.NONE else int(owner.id)
    except Exception:
        return None
    finally:
        conn.close()


def x11_embedded(icon: Any) -> bool:
    """True when the icon's X window has been embedded (reparented) by a tray host.

    pystray keeps its window in ``_window``; an icon without one counts as embedded (nothing
    to retry)."""
    window = getattr(icon, "_window", None)
    if window is None:
        return icon is not None
    try:
        from Xlib import display

        conn = display.Display()
    except Exception:
        return True
    try:
        tree = conn.create_resource_object("window", window.id).query_tree()
        return bool(tree.parent.id != tree.root.id)
    except Exception:
        return False
    finally:
        conn.close()


def x11_tray_host_present() -> bool:
    """True when an X11 system tray (XEmbed) has an owner to dock into."""
    return x11_tray_host() is not None


@dataclass
class _Docking:
    host: int | None = None  # the tray host window the icon docked into (X11 backend)


class Tray:
    """The icon and its menu; ``on_action`` receives the model's action strings."""

    def __init__(
        self, pystray: Any, state: TrayState, on_action: Callable[[str], None] | None = None
    ) -> None:
        """Build the icon (not shown until :meth:`start`)."""
        self._pystray = pystray
        self.state = state
        self.on_action = on_action or (lambda _a: None)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._calls: IconCalls | None = None  # the icon's blocking calls, off the event loop
        self.follow_task: asyncio.Task[None] | None = None
        self.sites_task: asyncio.Task[None] | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.controller: TrayController | None = None
        self.docking = _Docking()
        self.docked = asyncio.Event()  # set on the event loop once the icon is shown
        self.icon: Any = None

    @property
    def x11(self) -> bool:
        """True for pystray's X11 backend (no menu, and docking is ours to retry)."""
        return str(self._pystray.Icon.__module__).endswith("_xorg")

    @property
    def visible(self) -> bool:
        """True while the icon is shown."""
        return bool(self.icon is not None and self.icon.visible)

    def build_menu(self) -> Any:
        """The pystray menu for the current state (nested submenus as in the model)."""
        return self._items(menu_model(self.state))

    def _items(self, entries: list[MenuEntry] | tuple[MenuEntry, ...]) -> Any:
        ps = self._pystray
        items = []
        for entry in entries:
            if entry is SEPARATOR or entry.label == "-":
                items.append(ps.Menu.SEPARATOR)
            elif entry.children:
                items.append(ps.MenuItem(entry.label, self._items(entry.children)))
            elif entry.action is None:
                items.append(ps.MenuItem(entry.label, None, enabled=False))
            else:
                checked = entry.checked
                items.append(
                    ps.MenuItem(
                        entry.label,
                        self._handler(entry.action),
                        default=entry.default,
                        enabled=entry.enabled,
                        checked=(lambda _i, c=checked: c) if checked is not None else None,
                    )
                )
        return ps.Menu(*items)

    def _handler(self, action: str) -> Callable[..., None]:
        def handler(*_args: Any) -> None:
            self.trigger(action)

        return handler

    def trigger(self, action: str) -> None:
        """Run a menu action as if clicked (also used by tests)."""
        try:
            self.on_action(action)
        except Exception:
            log.exception("tray action %s failed", action)

    def start(self, timeout: float = 5.0) -> bool:
        """Show the icon from its own thread; False when it could not be shown."""
        ps = self._pystray
        self._ready.clear()
        self.icon = ps.Icon("kyso", _icon_image(), tooltip(self.state), menu=self.build_menu())
        self._calls = IconCalls()

        def setup(icon: Any) -> None:
            icon.visible = True
            self._ready.set()

        def run() -> None:
            try:
                self.icon.run(setup)
            except Exception as exc:
                log.warning("tray: could not show the icon (%s); running headless", exc)
                self._ready.set()

        self._thread = threading.Thread(target=run, name="kyso-tray", daemon=True)
        self._thread.start()
        return self._ready.wait(timeout) and self.visible

    def update(self, state: TrayState) -> None:
        """Refresh the tooltip and menu after a change (port, token, site, pause, language).

        Queued, never waited for: a stuck tray backend must not stop the agent's event loop."""
        self.state = state
        icon, calls = self.icon, self._calls
        if icon is None or calls is None:
            return
        title, menu = tooltip(state), self.build_menu()

        def apply() -> None:
            icon.title = title
            icon.menu = menu
            icon.update_menu()

        calls.submit("update", apply)

    def notify(self, message: str, title: str = "Kyso") -> None:
        """A desktop notification where the backend has them; the log otherwise."""
        log.warning("%s: %s", title, message)
        icon, calls = self.icon, self._calls
        if icon is not None and calls is not None and getattr(icon, "HAS_NOTIFICATION", False):
            calls.submit(object(), lambda: icon.notify(message, title))

    def stop(self) -> None:
        """Remove the icon and end its thread, waiting at most STOP_WAIT_SECONDS for each."""
        icon, calls, thread = self.icon, self._calls, self._thread
        self._calls = None
        if icon is not None and calls is not None:
            stopped = calls.submit("stop", icon.stop)
            calls.close()
            if not stopped.wait(STOP_WAIT_SECONDS):
                log.warning(
                    "tray: the icon did not stop within %.0f s (stuck tray backend); left behind",
                    STOP_WAIT_SECONDS,
                )
                # Kept referenced: pystray's Icon.__del__ would stop it again and wait forever.
                _LEFT_BEHIND.append(icon)
        if thread is not None:
            thread.join(STOP_WAIT_SECONDS)
            self._thread = None


def _icon_image() -> Any:
    from agent.ui.icon import draw_icon

    return draw_icon(64)


def _redock(tray: Tray) -> bool:
    tray.stop()
    return tray.start()


async def _watch_x11_host(tray: Tray) -> None:
    """Dock when a tray host appears, and again when it is replaced (pystray's X11 backend
    tries once at start and once when its host goes away, never later)."""
    while True:
        host = await asyncio.to_thread(x11_tray_host)
        # A restarted host may own a window with the same id (X reuses client id ranges), so
        # "still embedded" is checked too, not only "same host".
        if host is not None and (
            host != tray.docking.host or not await asyncio.to_thread(x11_embedded, tray.icon)
        ):
            if await asyncio.to_thread(_redock, tray):
                tray.docking.host = host
                tray.docked.set()
                log.info("tray icon docked (tray host 0x%x)", host)
        elif host is None and tray.docking.host is not None:
            tray.docking.host = None  # the host went away: dock into the next one
            tray.docked.clear()
        await asyncio.sleep(DOCK_POLL_SECONDS)


async def attach_tray(
    agent: AgentLike,
    on_quit: Callable[[], None],
    hooks: TrayHooks | None = None,
    *,
    prefs_path: Path | None = None,
) -> Tray | None:
    """Show the tray icon for a running agent; None when there can be no tray (headless).

    ``on_quit`` is called on the agent's event loop when the user picks Quit. On X11 without a
    tray host yet, the tray is returned undocked and docks as soon as a host appears. Tokens
    are followed through hot-plug events, and the allowed sites through approvals.json, until
    the agent stops.
    """
    pystray = load_pystray()
    if pystray is None:
        return None
    loop = asyncio.get_running_loop()
    controller = TrayController(agent, loop, on_quit, hooks or TrayHooks(), prefs_path=prefs_path)
    state = await controller.refresh()

    def act(action: str) -> None:  # from pystray's thread: hand the click to the loop
        loop.call_soon_threadsafe(controller.handle, action)

    tray = Tray(pystray, state, act)
    tray.controller = controller
    controller.tray = tray
    if tray.x11:
        tray.watch_task = loop.create_task(_watch_x11_host(tray))
        if x11_tray_host() is None:
            log.warning("tray: no system tray yet; the icon docks when one appears")
    elif await asyncio.to_thread(tray.start):
        tray.docked.set()
    else:
        log.warning("tray: no system tray to dock into; running headless (no tray icon)")
        tray.stop()
        return None
    controller.install_prompt_notices()
    tray.follow_task = loop.create_task(controller.follow_tokens())
    tray.sites_task = loop.create_task(controller.follow_sites())
    controller.start_first_run_checks()
    log.info("tray attached")
    return tray


def detach_tray(tray: Tray | None) -> None:
    """Stop watching, following tokens, and remove the icon (no-op for None)."""
    if tray is None:
        return
    for task in (tray.follow_task, tray.sites_task, tray.watch_task):
        if task is not None:
            task.cancel()
    if tray.controller is not None:
        tray.controller.close()
    tray.stop()


async def run_with_tray(
    start: Callable[[], Awaitable[AgentLike]],
    *,
    stop: asyncio.Event | None = None,
    hooks: TrayHooks | None = None,
) -> None:
    """Start the agent, show the tray, serve until Quit (or ``stop`` is set), then stop cleanly."""
    stop = stop or asyncio.Event()
    agent = await start()
    tray = await attach_tray(agent, stop.set, hooks)
    try:
        await stop.wait()
    finally:
        detach_tray(tray)
        await agent.stop()


def with_state(tray: Tray, **changes: Any) -> None:
    """Update some fields of the tray's state and redraw."""
    tray.update(replace(tray.state, **changes))
