"""The tray icon: a red seal with a key, a status line, and Quit.

Menu: status (port, number of tokens, a loud line when the scripted prompter is on), "Cài chứng
thư cho trình duyệt / Trust in browsers", "Mở thư mục nhật ký / Open log folder", "Thoát / Quit".
The icon runs in its own thread (pystray's loop); menu actions are handed to the agent's event
loop. Where there is no tray (no display: ``import pystray`` raises an Xlib error, not an
ImportError; no tray host; macOS, whose tray must own the main thread) the agent simply runs
headless and says so in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.ui.icon import draw_icon

log = logging.getLogger(__name__)


class AgentLike(Protocol):
    """What the tray needs from agent.server.runner.RunningAgent."""

    port: int
    services: Any  # .tokens: TokenService; .prompter: Prompter

    async def stop(self) -> None:
        """Stop the agent."""
        ...


@dataclass
class TrayStatus:
    """What the menu shows."""

    port: int | None = None
    tokens: int = 0
    scripted: bool = False


@dataclass(frozen=True)
class MenuEntry:
    """One menu line. ``action`` None = a status line (shown, not clickable); "-" = separator."""

    label: str
    action: str | None = None
    default: bool = False


SEPARATOR = MenuEntry("-")


def menu_model(status: TrayStatus) -> list[MenuEntry]:
    """The menu for a status. Pure, so it is tested without a display."""
    port = f"cổng / port {status.port}" if status.port else "đang khởi động / starting"
    entries = [
        MenuEntry(f"Kyso đang chạy / running — {port}"),
        MenuEntry(f"USB token: {status.tokens}"),
    ]
    if status.scripted:
        entries.append(MenuEntry("⚠ Trả lời tự động (scripted) — không hỏi người dùng"))
    entries += [
        SEPARATOR,
        MenuEntry("Cài chứng thư cho trình duyệt / Trust in browsers", "trust"),
        MenuEntry("Mở thư mục nhật ký / Open log folder", "open_log", default=True),
        SEPARATOR,
        MenuEntry("Thoát / Quit", "quit"),
    ]
    return entries


def tooltip(status: TrayStatus) -> str:
    """The icon's hover text. Plain ASCII: the X11 backend encodes window names as Latin-1."""
    port = f", port {status.port}" if status.port else ""
    return f"Kyso: {status.tokens} USB token{port}"


def load_pystray() -> Any | None:
    """pystray, or None where no tray can exist (logged, never raised)."""
    if sys.platform == "darwin":
        log.warning("tray: on macOS the tray needs the main thread; running without a tray icon")
        return None
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        log.warning("tray: no display; running headless (no tray icon)")
        return None
    try:
        import pystray
    except Exception as exc:  # Xlib.error.DisplayNameError and friends, or pystray missing
        log.warning("tray: unavailable (%s); running headless (no tray icon)", exc)
        return None
    return pystray


def x11_tray_host_present() -> bool:
    """True when an X11 system tray (XEmbed: the _NET_SYSTEM_TRAY_Sn selection) has an owner.

    pystray's X11 backend needs one to dock into and otherwise only logs errors."""
    try:
        from Xlib import X, display

        conn = display.Display()
    except Exception:
        return False
    try:
        atom = conn.intern_atom(f"_NET_SYSTEM_TRAY_S{conn.get_default_screen()}")
        return conn.get_selection_owner(atom) != X.NONE
    finally:
        conn.close()


def open_folder(path: Path) -> None:
    """Show a folder in the desktop's file manager (never waits for it)."""
    if sys.platform.startswith("win"):
        os.startfile(path)  # type: ignore[attr-defined]
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        log.warning("cannot open %s: %s", path, exc)


class Tray:
    """The icon and its menu; actions are plain callables run off the tray thread."""

    def __init__(
        self, pystray: Any, status: TrayStatus, actions: dict[str, Callable[[], None]]
    ) -> None:
        """Build the icon (not shown until :meth:`start`)."""
        self._pystray = pystray
        self.status = status
        self.actions = actions
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.follow_task: asyncio.Task[None] | None = None  # keeps the token count current
        self.icon = pystray.Icon("kyso", draw_icon(64), tooltip(status), menu=self._menu())

    def _menu(self) -> Any:
        ps = self._pystray
        items = []
        for index, entry in enumerate(menu_model(self.status)):
            if entry is SEPARATOR or entry.label == "-":
                items.append(ps.Menu.SEPARATOR)
                continue
            # Labels are callables so update_menu() shows the current status.
            label = self._label_at(index)
            if entry.action is None:
                items.append(ps.MenuItem(label, None, enabled=False))
            else:
                items.append(ps.MenuItem(label, self._handler(entry.action), default=entry.default))
        return ps.Menu(*items)

    def _label_at(self, index: int) -> Callable[[Any], str]:
        def label(_item: Any) -> str:
            model = menu_model(self.status)
            return model[index].label if index < len(model) else ""

        return label

    def _handler(self, action: str) -> Callable[..., None]:
        def handler(*_args: Any) -> None:
            self.trigger(action)

        return handler

    def trigger(self, action: str) -> None:
        """Run a menu action as if clicked (also used by tests)."""
        func = self.actions.get(action)
        if func is None:
            return
        try:
            func()
        except Exception:
            log.exception("tray action %s failed", action)

    def start(self, timeout: float = 5.0) -> bool:
        """Show the icon from its own thread; False when it could not be shown."""

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
        return self._ready.wait(timeout) and bool(self.icon.visible)

    def update(self, status: TrayStatus) -> None:
        """Refresh the tooltip and menu after a change (port known, token inserted...)."""
        self.status = status
        with contextlib.suppress(Exception):  # a backend without menus or titles
            self.icon.title = tooltip(status)
            self.icon.update_menu()

    def notify(self, message: str, title: str = "Kyso") -> None:
        """A desktop notification where the backend has them; the log otherwise."""
        log.warning("%s: %s", title, message)
        if getattr(self.icon, "HAS_NOTIFICATION", False):
            with contextlib.suppress(Exception):
                self.icon.notify(message, title)

    def stop(self) -> None:
        """Remove the icon and end its thread."""
        with contextlib.suppress(Exception):
            self.icon.stop()
        if self._thread is not None:
            self._thread.join(5)


async def _count_tokens(agent: AgentLike) -> int:
    try:
        return len(await agent.services.tokens.list_tokens())
    except Exception:
        log.debug("tray: listing tokens failed", exc_info=True)
        return 0


def _trust_install() -> str:
    from agent.localtls.truststore import run_trust

    report = run_trust("install")
    if report.ok:
        return "Đã cài chứng thư cho trình duyệt / the browsers now trust Kyso. " + " ".join(
            report.notes
        )
    return "Không cài được chứng thư / trust install failed: run 'kyso-agent trust status'."


async def attach_tray(agent: AgentLike, on_quit: Callable[[], None]) -> Tray | None:
    """Show the tray icon for a running agent; None when there is no tray (headless).

    ``on_quit`` is called on the agent's event loop when the user picks Quit. The token count
    follows hot-plug events until the agent stops.
    """
    pystray = load_pystray()
    if pystray is None:
        return None
    if pystray.Icon.__module__.endswith("_xorg") and not x11_tray_host_present():
        log.warning("tray: no system tray on this desktop; running headless (no tray icon)")
        return None
    loop = asyncio.get_running_loop()
    scripted = getattr(getattr(agent.services, "prompter", None), "name", "") == "scripted"
    status = TrayStatus(port=agent.port, tokens=await _count_tokens(agent), scripted=scripted)
    tray: Tray
    pending: set[asyncio.Task[None]] = set()  # trust installs running (kept referenced)

    def from_tray(func: Callable[[], None]) -> Callable[[], None]:
        return lambda: loop.call_soon_threadsafe(func)

    def trust() -> None:
        async def work() -> None:
            message = await asyncio.to_thread(_trust_install)
            tray.notify(message)

        task = loop.create_task(work())
        pending.add(task)
        task.add_done_callback(pending.discard)

    def open_log() -> None:
        from agent.config.paths import log_dir

        open_folder(log_dir())

    tray = Tray(
        pystray,
        status,
        {"quit": from_tray(on_quit), "trust": from_tray(trust), "open_log": open_log},
    )
    if not tray.start():
        log.warning("tray: no system tray to dock into; running headless (no tray icon)")
        tray.stop()
        return None
    tokens = getattr(agent.services, "tokens", None)
    if tokens is not None and hasattr(tokens, "subscribe"):
        queue = tokens.subscribe()

        async def follow() -> None:
            try:
                while True:
                    await queue.get()
                    tray.update(TrayStatus(agent.port, await _count_tokens(agent), scripted))
            finally:
                tokens.unsubscribe(queue)

        tray.follow_task = loop.create_task(follow())
    log.info("tray icon shown")
    return tray


def detach_tray(tray: Tray | None) -> None:
    """Stop following tokens and remove the icon (no-op for None)."""
    if tray is None:
        return
    if tray.follow_task is not None:
        tray.follow_task.cancel()
    tray.stop()


async def run_with_tray(
    start: Callable[[], Awaitable[AgentLike]], *, stop: asyncio.Event | None = None
) -> None:
    """Start the agent, show the tray, serve until Quit (or ``stop`` is set), then stop cleanly."""
    stop = stop or asyncio.Event()
    agent = await start()
    tray = await attach_tray(agent, stop.set)
    try:
        await stop.wait()
    finally:
        detach_tray(tray)
        await agent.stop()
