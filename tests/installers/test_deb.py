"""The Debian package as dpkg sees it (dpkg-deb --info / --contents) and its files unpacked."""

from __future__ import annotations

import configparser
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import __version__
from agent.config.policy import read_policy

from .conftest import INSTALLERS, TEST_MAINTAINER, require


def dpkg_deb(*args: str) -> str:
    """Output of dpkg-deb."""
    return subprocess.run(
        [require("dpkg-deb"), *args], capture_output=True, text=True, check=True
    ).stdout


def control(deb: Path) -> dict[str, str]:
    """The control fields (continuation lines dropped)."""
    fields = {}
    for line in dpkg_deb("--field", str(deb)).splitlines():
        if line and not line.startswith(" "):
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_control_fields(deb: Path) -> None:
    fields = control(deb)
    assert deb.name == f"kyso-agent_{__version__}_all.deb"
    assert fields["Package"] == "kyso-agent"
    assert fields["Version"] == __version__
    assert fields["Architecture"] == "all"  # only pure wheels inside by default
    depends = [d.strip() for d in fields["Depends"].split(",")]
    for needed in ("python3 (>= 3.11)", "python3-venv", "python3-tk", "libnss3-tools"):
        assert needed in depends
    # The tray's menu: PyGObject and the AppIndicator typelib (pystray's X11 fallback has none).
    assert {"python3-gi", "gir1.2-ayatanaappindicator3-0.1"} <= set(depends)
    assert "opensc" in fields["Suggests"]
    assert "softhsm2" not in fields["Depends"] + fields.get("Suggests", "")
    assert fields["Maintainer"] == TEST_MAINTAINER  # named by the build, never a placeholder
    assert "Homepage" not in fields  # none given, none invented
    assert fields["Description"]


def test_the_build_refuses_to_invent_a_maintainer(tmp_path: Path) -> None:
    """No --maintainer and no DEBFULLNAME/DEBEMAIL: the build stops before doing any work and
    says how to name one; a malformed one and a plain-http homepage are refused too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEB")}
    script = [sys.executable, str(INSTALLERS / "build_deb.py"), "--out", str(tmp_path)]
    cases = [
        ([], "DEBFULLNAME"),
        (["--maintainer", "kyso@example.org"], "Full Name <email>"),
        (["--maintainer", TEST_MAINTAINER, "--homepage", "http://kyso.test"], "https://"),
    ]
    for extra, said in cases:
        proc = subprocess.run(
            [*script, *extra], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 2 and said in proc.stderr, (extra, proc.stderr)
    assert list(tmp_path.iterdir()) == []


def test_debian_convention_names_the_maintainer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(INSTALLERS))  # the build scripts import their `common`
    spec = importlib.util.spec_from_file_location("build_deb", INSTALLERS / "build_deb.py")
    assert spec is not None and spec.loader is not None
    build_deb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_deb)
    maintainer_from = build_deb.maintainer_from
    assert maintainer_from(None, {"DEBFULLNAME": "Lê Văn A", "DEBEMAIL": "a@it.vn"}) == (
        "Lê Văn A <a@it.vn>"
    )
    assert maintainer_from(None, {"DEBEMAIL": "Phòng CNTT <it@cty.vn>"}) == "Phòng CNTT <it@cty.vn>"
    assert maintainer_from("B <b@x.vn>", {"DEBEMAIL": "a@it.vn"}) == "B <b@x.vn>"
    assert maintainer_from(None, {"DEBEMAIL": "a@it.vn"}) is None  # no name: not guessed


def test_contents_and_modes(deb: Path) -> None:
    entries = {}
    for line in dpkg_deb("--contents", str(deb)).splitlines():
        parts = line.split()
        entries[parts[-1].lstrip(".")] = (parts[0], parts[1])
    expected = {
        "/usr/bin/kyso-agent": "-rwxr-xr-x",
        "/opt/kyso/setup-venv": "-rwxr-xr-x",
        "/opt/kyso/kyso-autostart": "-rwxr-xr-x",
        f"/opt/kyso/wheels/kyso_agent-{__version__}-py3-none-any.whl": "-rw-r--r--",
        "/etc/xdg/autostart/kyso-agent.desktop": "-rw-r--r--",
        "/usr/share/applications/kyso-agent.desktop": "-rw-r--r--",
        "/usr/lib/systemd/user/kyso-agent.service": "-rw-r--r--",
        "/etc/kyso/policy.toml.example": "-rw-r--r--",
    }
    for path, mode in expected.items():
        assert entries[path] == (mode, "root/root"), path
    # The live policy is IT's file, never shipped (only the example).
    assert "/etc/kyso/policy.toml" not in entries


def test_maintainer_scripts(deb: Path, tmp_path: Path) -> None:
    subprocess.run([require("dpkg-deb"), "-e", str(deb), str(tmp_path)], check=True)
    conffiles = (tmp_path / "conffiles").read_text().split()
    assert "/etc/kyso/policy.toml.example" in conffiles
    assert "/etc/xdg/autostart/kyso-agent.desktop" in conffiles
    assert "/opt/kyso/setup-venv" in (tmp_path / "postinst").read_text()
    assert "rm -rf /opt/kyso/venv" in (tmp_path / "prerm").read_text()
    for script in ("postinst", "prerm"):
        assert os.access(tmp_path / script, os.X_OK)
        subprocess.run(["sh", "-n", str(tmp_path / script)], check=True)


def test_autostart_entry_starts_the_agent_in_the_session(deb_root: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(deb_root / "etc/xdg/autostart/kyso-agent.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == "/opt/kyso/kyso-autostart"
    assert desktop["Name[vi]"] == "Kyso – dịch vụ ký số"
    assert desktop.get("Hidden", "false") == "false"
    autostart = (deb_root / "opt/kyso/kyso-autostart").read_text()
    assert "flock -n" in autostart  # one agent per user
    assert "kyso-agent trust install" in autostart and "exec /usr/bin/kyso-agent run" in autostart
    unit = (deb_root / "usr/lib/systemd/user/kyso-agent.service").read_text()
    assert "ExecStart=/opt/kyso/kyso-autostart" in unit
    assert "WantedBy=graphical-session.target" in unit
    for script in ("opt/kyso/kyso-autostart", "opt/kyso/setup-venv", "usr/bin/kyso-agent"):
        subprocess.run(["sh", "-n", str(deb_root / script)], check=True)


def test_policy_example_is_a_valid_policy(deb_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_POLICY_FILE", str(deb_root / "etc/kyso/policy.toml.example"))
    policy, where = read_policy()
    assert policy["allowed_origins"] == ("https://dichvucong.baohiemxahoi.gov.vn",)
    assert where and where.endswith("policy.toml.example")


def test_wrapper_explains_a_missing_environment(deb_root: Path) -> None:
    if Path("/opt/kyso/venv/bin/python").exists():
        pytest.fail("/opt/kyso/venv exists on this machine: this test needs it absent")
    proc = subprocess.run(
        [str(deb_root / "usr/bin/kyso-agent"), "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "/opt/kyso/setup-venv" in proc.stderr


def test_setup_venv_never_leaves_a_half_built_environment(deb_root: Path, tmp_path: Path) -> None:
    # No index and no dependency wheels: the install must fail cleanly and say what to do.
    prefix = tmp_path / "kyso"
    (prefix / "wheels").mkdir(parents=True)
    for wheel in (deb_root / "opt/kyso/wheels").iterdir():
        (prefix / "wheels" / wheel.name).write_bytes(wheel.read_bytes())
    env = dict(
        os.environ,
        KYSO_PREFIX=str(prefix),
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_FIND_LINKS="",
    )
    proc = subprocess.run(
        ["sh", str(deb_root / "opt/kyso/setup-venv")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "run /opt/kyso/setup-venv as root" in proc.stderr
    assert not (prefix / "venv").exists() and not (prefix / "venv.new").exists()
