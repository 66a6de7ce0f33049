"""The tray's "Start Kyso at log-on" on Windows, behind a tiny registry seam.

The MSI installs one machine-wide entry, ``HKLM\\...\\Run`` value ``Kyso Agent`` (unless IT set
``AUTOSTART=0``), which starts the launcher with ``autostart --logon`` in every user's session.
A user cannot remove a machine entry (that needs an administrator), and the StartupApproved key
Task Manager uses is undocumented, kept in the same hive as the entry (HKLM for this one) and
so out of a user's reach too. So the per-user choice is Kyso's own, in the user's hive:

- off: ``HKCU\\Software\\Kyso\\Agent`` DWORD ``StartAtLogon`` = 0, which the launcher reads at
  log-on (``autostart --logon`` then exits at once), and this user's own Run value ``Kyso`` (if
  the tray wrote one) is removed;
- on: ``StartAtLogon`` is removed; where there is no machine entry (``AUTOSTART=0``), the
  user's own ``HKCU\\...\\Run`` value ``Kyso`` starts the launcher at log-on instead.

The Start-menu entry runs ``autostart`` without ``--logon``: it always starts the agent.
Tested here with a dictionary for a registry; never run on a real Windows yet.
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol

log = logging.getLogger(__name__)

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
MACHINE_RUN_VALUE = "Kyso Agent"  # written by the MSI (installers/windows/kyso.wxs)
USER_RUN_VALUE = "Kyso"
USER_KEY = r"Software\Kyso\Agent"
OPT_OUT_VALUE = "StartAtLogon"  # DWORD 0: not at log-on; the launcher reads the same value
HKCU, HKLM = "HKCU", "HKLM"


class Registry(Protocol):
    """The little of winreg this needs: one value of a key in HKCU or HKLM."""

    def get(self, hive: str, key: str, name: str) -> object | None:
        """The value, or None when the key or the value does not exist."""
        ...

    def set_string(self, hive: str, key: str, name: str, value: str) -> None:
        """Write a REG_SZ value (creating the key)."""
        ...

    def set_dword(self, hive: str, key: str, name: str, value: int) -> None:
        """Write a REG_DWORD value (creating the key)."""
        ...

    def delete(self, hive: str, key: str, name: str) -> None:
        """Remove a value; a missing key or value is not an error."""
        ...


def run_command(launcher: str) -> str:
    """The log-on command for the launcher at ``launcher`` (as the MSI's machine entry)."""
    return f'pyw.exe -3 "{launcher}" autostart --logon'


def opted_out(registry: Registry) -> bool:
    """True when this user turned log-on start off."""
    return registry.get(HKCU, USER_KEY, OPT_OUT_VALUE) == 0


def enabled(registry: Registry) -> bool:
    """True when Kyso starts at this user's log-on."""
    if opted_out(registry):
        return False
    return (
        registry.get(HKCU, RUN_KEY, USER_RUN_VALUE) is not None
        or registry.get(HKLM, RUN_KEY, MACHINE_RUN_VALUE) is not None
    )


def set_enabled(registry: Registry, on: bool, launcher: str | None) -> bool:
    """Turn this user's log-on start on or off; False when it cannot be done (no launcher path
    to start where the MSI installed no machine entry, or the registry refused)."""
    try:
        if not on:
            registry.set_dword(HKCU, USER_KEY, OPT_OUT_VALUE, 0)
            registry.delete(HKCU, RUN_KEY, USER_RUN_VALUE)
            return True
        if registry.get(HKLM, RUN_KEY, MACHINE_RUN_VALUE) is None:
            if not launcher:
                log.warning("log-on start: no launcher path (KYSO_LAUNCHER) to register")
                return False
            registry.set_string(HKCU, RUN_KEY, USER_RUN_VALUE, run_command(launcher))
        else:
            registry.delete(HKCU, RUN_KEY, USER_RUN_VALUE)  # the machine entry starts it
        registry.delete(HKCU, USER_KEY, OPT_OUT_VALUE)
        return True
    except OSError as exc:
        log.warning("log-on start: the registry refused the change: %s", exc)
        return False


class WinRegistry:
    """:class:`Registry` over ``winreg`` (Windows only; the tray reads HKLM, writes HKCU).

    Each method checks the platform first, the form mypy understands (no winreg elsewhere)."""

    def get(self, hive: str, key: str, name: str) -> object | None:
        """One value, or None."""
        if sys.platform != "win32":
            return None
        import winreg

        root = winreg.HKEY_CURRENT_USER if hive == HKCU else winreg.HKEY_LOCAL_MACHINE
        try:
            with winreg.OpenKey(root, key) as handle:
                value, _kind = winreg.QueryValueEx(handle, name)
        except OSError:
            return None
        return value

    def _set(self, hive: str, key: str, name: str, value: str | int) -> None:
        if sys.platform != "win32":
            raise OSError("there is no Windows registry here")
        import winreg

        root = winreg.HKEY_CURRENT_USER if hive == HKCU else winreg.HKEY_LOCAL_MACHINE
        kind = winreg.REG_DWORD if isinstance(value, int) else winreg.REG_SZ
        with winreg.CreateKeyEx(root, key, 0, winreg.KEY_SET_VALUE) as handle:
            winreg.SetValueEx(handle, name, 0, kind, value)

    def set_string(self, hive: str, key: str, name: str, value: str) -> None:
        """Write REG_SZ."""
        self._set(hive, key, name, value)

    def set_dword(self, hive: str, key: str, name: str, value: int) -> None:
        """Write REG_DWORD."""
        self._set(hive, key, name, value)

    def delete(self, hive: str, key: str, name: str) -> None:
        """Remove a value if it is there."""
        if sys.platform != "win32":
            raise OSError("there is no Windows registry here")
        import winreg

        root = winreg.HKEY_CURRENT_USER if hive == HKCU else winreg.HKEY_LOCAL_MACHINE
        try:
            with winreg.OpenKey(root, key, 0, winreg.KEY_SET_VALUE) as handle:
                winreg.DeleteValue(handle, name)
        except FileNotFoundError:
            pass


def default_registry() -> Registry | None:
    """The real registry on Windows, None elsewhere."""
    return WinRegistry() if sys.platform == "win32" else None
