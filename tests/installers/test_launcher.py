"""The Windows launcher's decisions (pure parts, run here on Linux) and the builders' helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent import __version__

from .conftest import INSTALLERS


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


launcher = _load("kyso_launcher", INSTALLERS / "windows" / "kyso_launcher.py")
common = _load("kyso_installers_common", INSTALLERS / "common.py")


def _venv(tmp_path: Path, stamp: str | None) -> Path:
    venv = tmp_path / "venv"
    python = launcher.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("")
    if stamp is not None:
        (venv / "kyso-wheel.txt").write_text(stamp + "\n")
    return venv


def test_install_needed_first_time_after_an_upgrade_and_after_a_rebuild(tmp_path: Path) -> None:
    wheel = tmp_path / "wheels" / "kyso_agent-0.2.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"new build")
    assert launcher.needs_install(tmp_path / "absent", wheel)
    assert launcher.needs_install(_venv(tmp_path / "a", None), wheel)  # interrupted install
    old = "kyso_agent-0.1.0-py3-none-any.whl sha256=00"
    assert launcher.needs_install(_venv(tmp_path / "b", old), wheel)
    current = _venv(tmp_path / "c", launcher.wheel_stamp(wheel))
    assert not launcher.needs_install(current, wheel)
    wheel.write_bytes(b"same version, rebuilt")
    assert launcher.needs_install(current, wheel)


def test_offline_first_then_the_index(tmp_path: Path) -> None:
    wheel = tmp_path / "wheels" / "kyso_agent-0.1.0-py3-none-any.whl"
    offline, online = launcher.install_commands(tmp_path / "venv", wheel)
    assert "--no-index" in offline and "--no-index" not in online
    for cmd in (offline, online):
        assert cmd[1:4] == ["-m", "pip", "install"]
        assert cmd[-3:] == ["--find-links", str(wheel.parent), str(wheel)]
    exact = launcher.exact_wheel_command(tmp_path / "venv", wheel)
    assert {"--no-deps", "--force-reinstall", "--no-index"} <= set(exact) and exact[-1] == str(
        wheel
    )


def test_exactly_one_kyso_wheel(tmp_path: Path) -> None:
    (tmp_path / "kyso_agent-0.1.0-py3-none-any.whl").write_bytes(b"")
    (tmp_path / "aiohttp-3.14.0-cp312-cp312-win_amd64.whl").write_bytes(b"")
    assert launcher.find_wheel(tmp_path).name == "kyso_agent-0.1.0-py3-none-any.whl"
    (tmp_path / "kyso_agent-0.0.9-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(SystemExit, match="found 2"):
        launcher.find_wheel(tmp_path)


def test_second_autostart_finds_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "state" / "agent.lock"
    with launcher.single_instance(lock) as first:
        assert first
        with launcher.single_instance(lock) as second:
            assert not second
    with launcher.single_instance(lock) as again:
        assert again  # released when the first agent ended


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", "0.1.0"), ("1.2", "1.2.0"), ("1.2.3rc1", "1.2.3"), ("2.0.1.dev4", "2.0.1")],
)
def test_msi_version(version: str, expected: str) -> None:
    assert common.msi_version(version) == expected


def test_msi_version_refuses_what_windows_installer_cannot_order() -> None:
    with pytest.raises(ValueError):
        common.msi_version("256.0.0")
    with pytest.raises(ValueError):
        common.msi_version("dev")


def test_version_is_read_from_the_package() -> None:
    assert common.read_version() == __version__


def test_a_failed_first_start_is_shown_to_the_user_in_both_languages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(launcher, "show_error", lambda title, body: shown.append((title, body)))
    monkeypatch.setattr(launcher, "HERE", tmp_path / "Kyso")  # no wheels folder: a broken install
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    with pytest.raises(SystemExit):
        launcher.main(["autostart"])
    ((title, body),) = shown
    assert "không khởi động được" in title and "could not start" in title
    assert "Hãy cài lại Kyso" in body and "Reinstall Kyso" in body
    log = tmp_path / "local" / "Kyso" / "launcher.log"
    assert str(log) in body  # says where the details are
    # A command-line run prints instead: no message box for kyso-agent.cmd.
    shown.clear()
    with pytest.raises(SystemExit):
        launcher.main(["doctor"])
    assert shown == []


def test_an_unexpected_error_and_an_agent_that_stops_are_shown_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(launcher, "show_error", lambda title, body: shown.append(body))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))

    def broken(*args: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(launcher, "_main", broken)
    assert launcher.main(["autostart"]) == 1
    assert "No space left on device" in shown[0] and "Lỗi không mong đợi" in shown[0]
    log = (tmp_path / "local" / "Kyso" / "launcher.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "No space left" in log
    monkeypatch.setattr(launcher, "_main", lambda *args: 3)
    assert launcher.main(["autostart"]) == 3
    assert "exit code 3" in shown[1] and "mã lỗi 3" in shown[1]
    monkeypatch.setattr(launcher, "_main", lambda *args: 0)
    assert launcher.main(["autostart"]) == 0 and len(shown) == 2  # a clean stop says nothing


def test_install_failure_says_what_the_machine_needs(tmp_path: Path) -> None:
    wheel = tmp_path / "kyso_agent-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    online = launcher.install_failed(wheel)
    assert "PyPI" in online.en and "PyPI" in online.vi and "không thành công" in online.vi
    (tmp_path / "aiohttp-3.14.0-cp312-cp312-win_amd64.whl").write_bytes(b"")
    offline = launcher.install_failed(wheel)
    assert "reinstall Kyso" in offline.en and "cài lại Kyso" in offline.vi
    assert not launcher.show_error("t", "b")  # no message box off Windows
