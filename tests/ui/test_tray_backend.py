"""pystray's backend is chosen explicitly and said in the log: a tray without a menu (pystray's
X11 fallback) must never happen silently."""

from __future__ import annotations

import os
import subprocess
import sys

from agent.ui.tray_backend import MENU_PACKAGES, gi_has, pick_backend

BUS = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}


def _has(*available: str):
    return lambda namespace, _version: namespace in available


def test_the_backend_follows_what_the_session_offers() -> None:
    everything = _has("Gtk", "AyatanaAppIndicator3")
    assert pick_backend(BUS, "linux", everything).name == "appindicator"
    assert pick_backend(BUS, "linux", _has("Gtk", "AppIndicator3")).name == "appindicator"
    assert pick_backend(BUS, "linux", _has("Gtk")).name == "gtk"  # no AppIndicator typelib
    missing = pick_backend(BUS, "linux", _has())
    assert missing.name == "xorg" and MENU_PACKAGES in missing.reason  # says what to install
    # No session bus: GTK's backends would fail later, at run time.
    assert pick_backend({}, "linux", everything).name == "xorg"
    # An explicit choice is kept; other systems keep pystray's own.
    assert pick_backend({**BUS, "PYSTRAY_BACKEND": "gtk"}, "linux", everything).name == "gtk"
    assert pick_backend(BUS, "win32", everything).name is None


def test_the_probe_looks_for_real_typelibs() -> None:
    assert gi_has("Gtk", "3.0")  # PyGObject and GTK 3 are installed here (run.sh)
    assert gi_has("AyatanaAppIndicator3", "0.1")
    assert not gi_has("KysoNoSuchLibrary", "1.0")


def test_a_tray_without_a_menu_is_logged_with_what_to_install(xvfb: str) -> None:
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from agent.ui.tray import load_pystray\n"
        "print('HAS_MENU', load_pystray().Icon.HAS_MENU)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYSTRAY_BACKEND"}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no session bus: the X11 icon, without a menu
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert "HAS_MENU False" in out.stdout, out.stderr
    assert "pystray backend xorg (menu: no, notifications: no)" in out.stderr
    assert f"for the menu install {MENU_PACKAGES}" in out.stderr
