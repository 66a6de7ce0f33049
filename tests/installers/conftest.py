"""Fixtures for the installer tests: the real MSI and .deb, built once per session by the same
scripts IT runs, and read back with msitools / dpkg-deb. A missing tool is a failure, never a
skip: ./run.sh installs wixl, msitools and dpkg.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLERS = REPO / "installers"
TOOLS = {"wixl": "wixl", "msiinfo": "msitools", "msibuild": "msitools", "msiextract": "msitools"}
TOOLS |= {"dpkg-deb": "dpkg", "dbus-run-session": "dbus-daemon"}


def require(tool: str) -> str:
    """The tool's path, or a test failure naming the Debian package to install."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: apt-get install {TOOLS.get(tool, tool)} (./run.sh does)")
    return path


IT_ABOUT_URL = "https://it.congty.vn/ky-so"
IT_CONTACT = "Phòng CNTT, máy lẻ 123"
# Who answers for the test builds (.invalid: RFC 2606, never a real address).
TEST_MAINTAINER = "Kyso test build <kyso-tests@build.invalid>"


def build(script: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a build script as IT would; the build must succeed."""
    if script == "build_deb.py":
        args = ("--maintainer", TEST_MAINTAINER, *args)
    proc = subprocess.run(
        [sys.executable, str(INSTALLERS / script), "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="session")
def msi_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The MSI and the build script's output."""
    for tool in ("wixl", "msiinfo", "msibuild"):
        require(tool)
    out = tmp_path_factory.mktemp("msi")
    # The tables and the Wine install do not need the 50 MB of dependency wheels the default
    # build ships: test_msi_bundled.py checks that build once (its wheels are cached).
    proc = build("build_msi.py", out, "--no-dependency-wheels")
    (msi,) = out.glob("kyso-agent-*.msi")
    return msi, proc.stdout


@pytest.fixture(scope="session")
def msi(msi_build: tuple[Path, str]) -> Path:
    """Path of the built MSI."""
    return msi_build[0]


@pytest.fixture(scope="session")
def rebuilt_msi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second build of the same version (a new ProductCode): the upgrade/rebuild cases."""
    require("wixl")
    out = tmp_path_factory.mktemp("msi-rebuilt")
    # What IT gives its own build: the Add/Remove Programs address and contact.
    build(
        "build_msi.py",
        out,
        "--no-dependency-wheels",
        "--about-url",
        IT_ABOUT_URL,
        "--contact",
        IT_CONTACT,
    )
    (msi,) = out.glob("kyso-agent-*.msi")
    return msi


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the built .deb."""
    require("dpkg-deb")
    out = tmp_path_factory.mktemp("deb")
    # The small _all package: the default _amd64 one (70 MB of wheels inside) is installed
    # for real by test_deb_install.py.
    build("build_deb.py", out, "--no-dependency-wheels")
    (package,) = out.glob("kyso-agent_*.deb")
    return package


@pytest.fixture(scope="session")
def deb_root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files unpacked (dpkg-deb -x) into a temporary root."""
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root
