"""What the tray's Settings submenu changes, kept where the user's settings live.

``tray.json`` (beside config.toml) holds the language and the PIN-cache choice; a damaged file is
read as the defaults (the worst case is Vietnamese and the configured PIN cache). "Start Kyso at
log-on" on Linux is the XDG rule: a user's ``~/.config/autostart/kyso-agent.desktop`` with
``Hidden=true`` hides the system-wide entry the .deb installs; removing it restores the default.
On Windows it is the user's hive (``agent/ui/tray_winstart.py``); elsewhere the installer
decides. Every file write is atomic (agent.files.atomic_write).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.config import paths
from agent.files import atomic_write
from agent.ui import tray_winstart
from agent.ui.tray_model import LANGUAGES

log = logging.getLogger(__name__)

AUTOSTART_NAME = "kyso-agent.desktop"
_HIDDEN_ENTRY = (
    "[Desktop Entry]\nType=Application\nName=Kyso Agent\nExec=/opt/kyso/kyso-autostart\n"
    "Hidden=true\n"
)


@dataclass
class TrayPreferences:
    """The tray's own settings. ``pin_cache`` None: as config.toml / the policy say."""

    language: str = "vi"
    pin_cache: bool | None = None


def prefs_path() -> Path:
    """``tray.json`` in the user's config folder."""
    return paths.config_dir() / "tray.json"


def load_preferences(path: Path | None = None) -> TrayPreferences:
    """The saved preferences, or the defaults (missing or unreadable file)."""
    path = path or prefs_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TrayPreferences()
    except (OSError, ValueError) as exc:
        log.warning("tray preferences %s unreadable (%s); using the defaults", path, exc)
        return TrayPreferences()
    prefs = TrayPreferences()
    if isinstance(data, dict):
        if data.get("language") in LANGUAGES:
            prefs.language = data["language"]
        if isinstance(data.get("pin_cache"), bool):
            prefs.pin_cache = data["pin_cache"]
    return prefs


def save_preferences(prefs: TrayPreferences, path: Path | None = None) -> None:
    """Write the preferences atomically (the file is the tray's own: replaced on purpose)."""
    body = json.dumps(asdict(prefs), indent=2, ensure_ascii=False).encode() + b"\n"
    atomic_write(path or prefs_path(), body, overwrite=True, mode=0o600)


def autostart_override() -> Path:
    """The user's XDG autostart entry that can hide the system-wide one."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / AUTOSTART_NAME


def autostart_enabled(registry: tray_winstart.Registry | None = None) -> bool:
    """True when Kyso starts at this user's log-on (Linux: unless hidden; Windows: the user's
    hive, ``registry`` for tests; elsewhere the installer decides: True)."""
    registry = registry or tray_winstart.default_registry()
    if registry is not None:
        return tray_winstart.enabled(registry)
    if not sys.platform.startswith("linux"):
        return True
    try:
        body = autostart_override().read_text(encoding="utf-8")
    except OSError:
        return True
    return "Hidden=true" not in body.replace(" ", "")


def set_autostart(enabled: bool, registry: tray_winstart.Registry | None = None) -> bool:
    """Turn this user's log-on start on or off; False where the tray cannot change it. On
    Windows the launcher that started the agent says where it is ($KYSO_LAUNCHER)."""
    registry = registry or tray_winstart.default_registry()
    if registry is not None:
        launcher = os.environ.get("KYSO_LAUNCHER")
        return tray_winstart.set_enabled(registry, enabled, launcher)
    if not sys.platform.startswith("linux"):
        return False
    override = autostart_override()
    if enabled:
        try:
            if override.exists() and "Hidden=true" in override.read_text(encoding="utf-8"):
                override.unlink()  # only our own hiding entry is removed, never a user's file
        except OSError as exc:
            log.warning("cannot change %s: %s", override, exc)
            return False
        return True
    override.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(override, _HIDDEN_ENTRY.encode(), overwrite=override.exists())
    except OSError as exc:
        log.warning("cannot write %s: %s", override, exc)
        return False
    return True
