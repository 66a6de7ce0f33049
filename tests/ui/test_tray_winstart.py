"""The tray's "Start Kyso at log-on" on Windows, over a dictionary standing in for the registry
(the seam is the four calls of agent.ui.tray_winstart.Registry). Never run on a real Windows:
the MSI's machine entry and the launcher's reading of the opt-out are checked in
tests/installers (test_msi.py, test_launcher_handoff.py)."""

from __future__ import annotations

import pytest

from agent.ui import tray_winstart as ws
from agent.ui.tray_prefs import autostart_enabled, set_autostart

LAUNCHER = r"C:\Program Files\Kyso\kyso_launcher.pyw"


class FakeRegistry:
    """HKCU and HKLM as dictionaries of (key lower-cased, value name) -> value."""

    def __init__(self, machine_entry: bool = True, refuse: bool = False) -> None:
        self.data: dict[tuple[str, str, str], object] = {}
        self.refuse = refuse
        if machine_entry:  # what the MSI writes unless AUTOSTART=0
            self.data[(ws.HKLM, ws.RUN_KEY.lower(), ws.MACHINE_RUN_VALUE)] = ws.run_command(
                LAUNCHER
            )

    def get(self, hive: str, key: str, name: str) -> object | None:
        return self.data.get((hive, key.lower(), name))

    def _write(self, hive: str, key: str, name: str, value: object) -> None:
        if self.refuse or hive != ws.HKCU:  # a user cannot write HKLM
            raise PermissionError("access denied")
        self.data[(hive, key.lower(), name)] = value

    def set_string(self, hive: str, key: str, name: str, value: str) -> None:
        self._write(hive, key, name, value)

    def set_dword(self, hive: str, key: str, name: str, value: int) -> None:
        self._write(hive, key, name, value)

    def delete(self, hive: str, key: str, name: str) -> None:
        if self.refuse or hive != ws.HKCU:
            raise PermissionError("access denied")
        self.data.pop((hive, key.lower(), name), None)

    def hkcu(self) -> dict[tuple[str, str], object]:
        return {(k, n): v for (h, k, n), v in self.data.items() if h == ws.HKCU}


def test_off_overrides_the_machine_entry_for_this_user_only_and_on_restores_it() -> None:
    reg = FakeRegistry()
    assert ws.enabled(reg)  # installed with the default AUTOSTART
    assert ws.set_enabled(reg, False, LAUNCHER)
    assert not ws.enabled(reg)
    # The machine entry stays (a user cannot and must not remove it); the user's own opt-out
    # is what the launcher reads at log-on.
    assert reg.get(ws.HKLM, ws.RUN_KEY, ws.MACHINE_RUN_VALUE) is not None
    assert reg.hkcu() == {(ws.USER_KEY.lower(), ws.OPT_OUT_VALUE): 0}
    assert ws.set_enabled(reg, True, LAUNCHER)
    assert ws.enabled(reg) and reg.hkcu() == {}  # nothing of ours left in the user's hive


def test_without_a_machine_entry_on_writes_the_users_own_run_value() -> None:
    reg = FakeRegistry(machine_entry=False)  # IT installed with AUTOSTART=0
    assert not ws.enabled(reg)
    assert ws.set_enabled(reg, True, LAUNCHER)
    assert ws.enabled(reg)
    command = reg.get(ws.HKCU, ws.RUN_KEY, ws.USER_RUN_VALUE)
    assert command == f'pyw.exe -3 "{LAUNCHER}" autostart --logon'
    assert ws.set_enabled(reg, False, LAUNCHER)
    assert not ws.enabled(reg)
    assert reg.get(ws.HKCU, ws.RUN_KEY, ws.USER_RUN_VALUE) is None


def test_what_cannot_be_done_is_reported_not_pretended() -> None:
    # No launcher path (an agent not started by the launcher) and no machine entry.
    reg = FakeRegistry(machine_entry=False)
    assert not ws.set_enabled(reg, True, None)
    assert not ws.enabled(reg) and reg.hkcu() == {}
    # A registry that refuses (a locked-down profile): False, never an exception.
    locked = FakeRegistry(refuse=True)
    assert not ws.set_enabled(locked, False, LAUNCHER)
    assert ws.enabled(locked)


def test_the_tray_setting_uses_the_registry_and_the_launchers_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = FakeRegistry(machine_entry=False)
    monkeypatch.setenv("KYSO_LAUNCHER", LAUNCHER)  # set by the launcher for the agent
    assert not autostart_enabled(registry=reg)
    assert set_autostart(True, registry=reg) and autostart_enabled(registry=reg)
    assert reg.get(ws.HKCU, ws.RUN_KEY, ws.USER_RUN_VALUE) == ws.run_command(LAUNCHER)
    assert set_autostart(False, registry=reg) and not autostart_enabled(registry=reg)
