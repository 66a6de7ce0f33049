"""Which of pystray's Linux backends the tray uses, chosen explicitly and said in the log.

pystray picks its backend once, at import time, and silently: without PyGObject it falls back to
its X11 backend, which has an icon but no menu and no notifications — a tray that a person who
never opens a terminal cannot use. So the choice is made here, before the import, from what the
session really offers, and the log says which backend and why:

- ``$PYSTRAY_BACKEND`` when set (an administrator's or a test's choice) is kept;
- no D-Bus session bus: ``xorg`` (the GTK backends need one and would only fail later, at run
  time, after the icon was promised);
- PyGObject with an AppIndicator typelib (Debian: python3-gi, gir1.2-ayatanaappindicator3-0.1):
  ``appindicator`` — a StatusNotifier item (GNOME with the AppIndicator extension, KDE, XFCE),
  and libayatana-appindicator itself falls back to an XEmbed icon where only such a tray exists;
- PyGObject with GTK 3 only: ``gtk`` (an XEmbed status icon, with its menu);
- otherwise ``xorg``, with a warning naming the packages that give the menu back.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

# The Debian packages that give pystray a menu (the .deb depends on them).
MENU_PACKAGES = "python3-gi gir1.2-ayatanaappindicator3-0.1"
_INDICATORS = (("AyatanaAppIndicator3", "0.1"), ("AppIndicator3", "0.1"))


@dataclass(frozen=True)
class BackendChoice:
    """A pystray backend name (None: pystray's own choice, off Linux) and why it was chosen."""

    name: str | None
    reason: str


def gi_has(namespace: str, version: str) -> bool:
    """True when PyGObject is importable and the typelib ``namespace``-``version`` is installed
    (``gi.require_version`` only looks the typelib up: nothing is loaded or initialised)."""
    try:
        import gi

        gi.require_version(namespace, version)
    except (ImportError, ValueError):
        return False
    return True


def pick_backend(
    env: Mapping[str, str],
    platform: str = sys.platform,
    has: Callable[[str, str], bool] = gi_has,
) -> BackendChoice:
    """The backend for this session (pure apart from ``has``, the typelib probe)."""
    if not platform.startswith("linux"):
        return BackendChoice(None, "pystray's own backend for " + platform)
    if env.get("PYSTRAY_BACKEND"):
        return BackendChoice(env["PYSTRAY_BACKEND"], "as $PYSTRAY_BACKEND says")
    if not env.get("DBUS_SESSION_BUS_ADDRESS"):
        return BackendChoice("xorg", "no D-Bus session bus: an icon without a menu")
    if any(has(namespace, version) for namespace, version in _INDICATORS) and has("Gtk", "3.0"):
        return BackendChoice("appindicator", "PyGObject and AppIndicator are installed")
    if has("Gtk", "3.0"):
        return BackendChoice("gtk", "PyGObject and GTK 3 are installed (no AppIndicator)")
    return BackendChoice(
        "xorg", f"PyGObject or GTK 3 is missing: an icon without a menu (install {MENU_PACKAGES})"
    )


def choose_backend() -> BackendChoice:
    """Set ``$PYSTRAY_BACKEND`` for pystray's import (it decides then) and return the choice."""
    choice = pick_backend(os.environ)
    if choice.name is not None:
        os.environ["PYSTRAY_BACKEND"] = choice.name
    return choice


def log_backend(pystray: object, choice: BackendChoice) -> None:
    """Say in the log which backend pystray loaded, what it can do, and why it was chosen."""
    icon = getattr(pystray, "Icon", None)
    module = str(getattr(icon, "__module__", "?")).rpartition("._")[2]
    has_menu = bool(getattr(icon, "HAS_MENU", False))
    has_notes = bool(getattr(icon, "HAS_NOTIFICATION", False))
    log.info(
        "tray: pystray backend %s (menu: %s, notifications: %s) — %s",
        module,
        "yes" if has_menu else "no",
        "yes" if has_notes else "no",
        choice.reason,
    )
    if not has_menu:
        log.warning(
            "tray: this tray icon has no menu; for the menu install %s and start Kyso in a "
            "desktop session (with a D-Bus session bus)",
            MENU_PACKAGES,
        )
