"""The default ``_amd64`` .deb installed for real with apt, as an administrator would.

This machine is the disposable test machine (the tests run as root): the package is installed
with ``apt-get install ./kyso-agent_*_amd64.deb`` inside a network namespace with no network
at all (``unshare -n``), so the dependency wheels inside must be enough; then a throwaway OS
user runs the XDG autostart command for real (``runuser``) and must end up with the local CA
in their NSS database and an agent whose certificate that database trusts; finally
``apt-get purge`` must remove everything the package put there. The module's fixture purges
and deletes the user even when a test fails, and refuses to start on a machine that already
has Kyso installed (it would not leave it as it found it).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent import __version__
from tests.ui.conftest import xvfb  # noqa: F401  (a fixture: a private X server)

from .conftest import build, require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

APT_ENV = {
    "DEBIAN_FRONTEND": "noninteractive",
    # Belt and braces with the empty network namespace: pip may not even try an index.
    "PIP_NO_INDEX": "1",
    "PIP_CONFIG_FILE": os.devnull,
}
APT_LOCK = ("-o", "DPkg::Lock::Timeout=120")  # wait for another apt run instead of failing
# No display here: the terminal prompter (the dialogs' toolkit is checked by import instead);
# any free port, no ping port (other agents may run on this machine).
AGENT_ARGS = ("--headless", "--prompter", "terminal", "--port", "0", "--ping-port", "0")
# A TLS client as the user: reads the CA file and port, prints the TLS version on success.
TLS_CHECK = """
import socket, ssl, sys
cafile, port = sys.stdin.read().split()
context = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        print(tls.version())
"""
READY = re.compile(r"ready at wss://127\.0\.0\.1:(\d+)/v1/ws")


@dataclass
class Installed:
    """The package as installed: apt's output and the paths dpkg says it owns."""

    deb: Path
    apt_output: str
    files: list[str] = field(default_factory=list)
    purged: bool = False


def apt(*args: str, offline: bool = False) -> subprocess.CompletedProcess[str]:
    """Run apt-get as an administrator would (``offline``: in a namespace without network)."""
    prefix = [require("unshare"), "-n"] if offline else []
    return subprocess.run(
        [*prefix, require("apt-get"), *APT_LOCK, *args],
        env={**os.environ, **APT_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def is_installed() -> bool:
    """True when dpkg knows kyso-agent in any state but 'not installed / purged'."""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "kyso-agent"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip() not in ("", "un", "pn")


def purge() -> subprocess.CompletedProcess[str]:
    """``apt-get purge -y kyso-agent``."""
    return apt("purge", "-y", "kyso-agent")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Build the default package, install it offline, and always purge it afterwards."""
    if os.geteuid() != 0:
        pytest.fail("installing the .deb for real needs root (the test machine runs as root)")
    if is_installed() or Path("/opt/kyso").exists() or Path("/etc/kyso").exists():
        pytest.fail("Kyso is already installed here (/opt/kyso, /etc/kyso or dpkg): refusing")
    require("dpkg-deb")
    out = tmp_path_factory.mktemp("deb-amd64")
    build("build_deb.py", out)  # the default build: dependency wheels inside
    (deb,) = out.glob("kyso-agent_*.deb")
    try:
        proc = apt("install", "-y", str(deb), offline=True)
        state = Installed(deb, proc.stdout + proc.stderr)
        assert proc.returncode == 0, state.apt_output
        listing = subprocess.run(
            ["dpkg", "-L", "kyso-agent"], capture_output=True, text=True, check=True
        )
        state.files = listing.stdout.split()
        yield state
    finally:
        if is_installed():
            cleanup = purge()
            assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr


@dataclass
class User:
    """A throwaway OS user: name, uid, home, and the session's runtime folder."""

    name: str
    uid: int
    home: Path
    runtime: Path


@pytest.fixture
def new_user(tmp_path: Path) -> Iterator[User]:
    """A fresh OS user with a home and a /run/user/UID folder (what logind makes at login),
    deleted (home, runtime folder, processes) afterwards."""
    name = f"kysot{os.getpid() % 100000}"
    subprocess.run([require("useradd"), "-m", "-s", "/bin/sh", name], check=True)
    runtime: Path | None = None
    try:
        uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True).stdout)
        runtime = Path(f"/run/user/{uid}")
        runtime.mkdir(mode=0o700, parents=True)
        os.chown(runtime, uid, -1)
        yield User(name, uid, Path(f"/home/{name}"), runtime)
    finally:
        for pid in processes_of(name):
            kill_quietly(pid, signal.SIGKILL)
        subprocess.run(["userdel", "-r", name], capture_output=True, check=False)
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)


def processes_of(user: str) -> list[int]:
    """The pids of every process this (throwaway) user runs."""
    proc = subprocess.run(["pgrep", "-u", user], capture_output=True, text=True, check=False)
    return [int(p) for p in proc.stdout.split()]


def kill_quietly(pid: int, sig: signal.Signals) -> None:
    """Signal a process that may already be gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def desktop_entry(path: Path) -> configparser.SectionProxy:
    """The [Desktop Entry] group of a .desktop file (keys case-sensitive)."""
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(path, encoding="utf-8")
    return entry["Desktop Entry"]


def test_default_build_is_amd64_and_installs_without_network(installed: Installed) -> None:
    assert installed.deb.name == f"kyso-agent_{__version__}_amd64.deb"
    # setup-venv took its offline path: no fallback to an index (there is no network anyway).
    assert "using the package index" not in installed.apt_output
    wheels = "\n".join(installed.files)
    assert re.search(r"/cryptography-[^/]*-abi3-manylinux[^/]*\.whl", wheels)
    for python in ("311", "312", "313"):  # Debian 12, Ubuntu 24.04, Debian 13
        assert re.search(rf"/lxml-[^/]*-cp{python}-cp{python}-manylinux[^/]*\.whl", wheels)
    version = subprocess.run(
        ["/usr/bin/kyso-agent", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in version.stdout
    # The environment uses the system Python (Debian's), not the one running the tests.
    cfg = Path("/opt/kyso/venv/pyvenv.cfg").read_text()
    assert "home = /usr/bin" in cfg and sys.prefix not in cfg
    # The consent and PIN dialogs' toolkit comes from the python3-tk the package depends on.
    subprocess.run(["/opt/kyso/venv/bin/python", "-c", "import tkinter"], check=True)


# In the installed environment, as the agent's tray starts it: which backend, what it can do,
# and where gi comes from (Debian's python3-gi, linked in by setup-venv).
TRAY_CHECK = """
import logging, sys
logging.basicConfig(level=logging.INFO)
import gi
from agent.ui.tray import load_pystray
pystray = load_pystray()
icon = pystray.Icon
print("BACKEND", icon.__module__, icon.HAS_MENU, icon.HAS_NOTIFICATION)
print("GI", gi.__file__)
print("DIST", any(p.endswith("dist-packages") for p in sys.path))
"""


@pytest.mark.usefixtures("xvfb")  # sets $DISPLAY
def test_the_installed_tray_has_a_menu_in_a_desktop_session(
    installed: Installed, tmp_path: Path
) -> None:
    # A desktop session: a display (Xvfb) and a D-Bus session bus; nothing chosen for pystray.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DISPLAY": os.environ["DISPLAY"],
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [require("dbus-run-session"), "--", "/opt/kyso/venv/bin/python", "-c", TRAY_CHECK],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    # pystray's AppIndicator backend: a menu and notifications (its X11 fallback has neither).
    assert lines["BACKEND"] == "pystray._appindicator True True", proc.stdout + proc.stderr
    assert "pystray backend appindicator (menu: yes, notifications: yes)" in proc.stderr
    # gi is Debian's python3-gi, the one package the environment takes from the system: the
    # rest of Debian's dist-packages (older cryptography...) stays invisible to the agent.
    assert Path(lines["GI"]).resolve().is_relative_to("/usr/lib/python3/dist-packages/gi")
    assert lines["DIST"] == "False"


def test_autostart_entry_and_systemd_user_unit_are_in_place(
    installed: Installed, tmp_path: Path
) -> None:
    entry = desktop_entry(Path("/etc/xdg/autostart/kyso-agent.desktop"))
    assert entry["Type"] == "Application"
    command = entry["Exec"].split()[0]
    assert command == "/opt/kyso/kyso-autostart" and os.access(command, os.X_OK)
    assert entry.get("Hidden", "false") == "false"
    assert entry.get("X-GNOME-Autostart-enabled", "true") == "true"
    unit = Path("/usr/lib/systemd/user/kyso-agent.service")
    assert unit.is_file() and "ExecStart=/opt/kyso/kyso-autostart" in unit.read_text()
    # systemd's own check of the installed unit (the ExecStart it names must exist now).
    verify = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)},  # its user manager needs one
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for path in (
        "/etc/xdg/autostart/kyso-agent.desktop",
        "/usr/lib/systemd/user/kyso-agent.service",
    ):
        assert path in installed.files


def start_as(user: User, *args: str) -> subprocess.Popen[str]:
    """The autostart command as the desktop session would run it for ``user``."""
    env = [
        f"HOME={user.home}",
        f"USER={user.name}",
        f"LOGNAME={user.name}",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        f"XDG_RUNTIME_DIR={user.runtime}",
        "LANG=C.UTF-8",
    ]
    return subprocess.Popen(
        ["runuser", "-u", user.name, "--", "env", "-i", *env, "/opt/kyso/kyso-autostart", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: stopped as one afterwards
    )


def stop(agent: subprocess.Popen[str]) -> None:
    """Stop the agent started by ``start_as`` and everything in its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(agent.pid, signal.SIGTERM)
    try:
        agent.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait()
    for stream in (agent.stdout, agent.stderr):
        if stream is not None:
            stream.close()


def wait_ready(agent: subprocess.Popen[str]) -> int:
    """The port from the agent's ready line (its log goes to stderr)."""
    assert agent.stderr is not None
    seen = []
    for line in agent.stderr:
        seen.append(line)
        match = READY.search(line)
        if match:
            return int(match.group(1))
    pytest.fail("the agent exited before it was ready:\n" + "".join(seen))


def kyso_ca_from_nssdb(db: Path) -> str:
    """The PEM of the one Kyso CA in an NSS database, which must be trusted for TLS (C,,)."""
    listing = subprocess.run(
        [require("certutil"), "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.rstrip() for line in listing.splitlines() if line.startswith("Kyso Local CA")]
    assert len(rows) == 1, listing
    nickname, _, flags = rows[0].rpartition(" ")
    assert flags == "C,,", rows[0]
    return subprocess.run(
        [require("certutil"), "-L", "-d", f"sql:{db}", "-n", nickname.strip(), "-a"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_new_user_gets_nss_trust_on_first_start(installed: Installed, new_user: User) -> None:
    nssdb = new_user.home / ".pki" / "nssdb"
    assert not nssdb.exists()  # a new user: no browser database yet
    agent = start_as(new_user, *AGENT_ARGS)
    try:
        port = wait_ready(agent)
        # The database Chromium/Chrome reads was made for the user, owned by the user.
        assert (nssdb / "cert9.db").stat().st_uid == new_user.uid
        ca_pem = new_user.home / "ca-from-nssdb.pem"
        ca_pem.write_text(kyso_ca_from_nssdb(nssdb))
        ca_pem.chmod(0o644)
        # What the browser would check, from the user's own session (the agent refuses other
        # users' connections): its certificate chains to the CA the database now trusts.
        handshake = subprocess.run(
            ["runuser", "-u", new_user.name, "--", "/usr/bin/python3", "-c", TLS_CHECK],
            input=f"{ca_pem}\n{port}\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert handshake.returncode == 0, handshake.stderr
        assert handshake.stdout.strip() in ("TLSv1.2", "TLSv1.3")
        # Another OS user (root, here) is turned away before TLS even starts.
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            pytest.raises((ssl.SSLError, ConnectionError)),
        ):
            ssl.create_default_context(cafile=str(ca_pem)).wrap_socket(
                raw, server_hostname="127.0.0.1"
            )
        tls_dir = new_user.home / ".local/share/kyso/tls"
        assert {"ca.pem", "server.pem", "server.key"} <= {p.name for p in tls_dir.iterdir()}
        assert not list(tls_dir.glob("ca*key*"))  # the CA key was never written
        # A second start in the same session (menu entry, unit and autostart) does not run a
        # second agent: the lock in $XDG_RUNTIME_DIR.
        second = start_as(new_user, *AGENT_ARGS)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0 and "already running" in err
    finally:
        stop(agent)


def test_purge_removes_everything_it_installed(installed: Installed) -> None:
    proc = purge()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not is_installed()
    left = [
        path
        for path in installed.files
        if (Path(path).exists() or Path(path).is_symlink()) and not Path(path).is_dir()
    ]
    assert left == []
    # The environment setup-venv made (not listed by dpkg) and the package's folders are gone.
    for folder in ("/opt/kyso", "/etc/kyso"):
        assert not Path(folder).exists(), folder
    # The environment's link to Debian's gi went with it, not what it pointed to.
    assert Path("/usr/lib/python3/dist-packages/gi/__init__.py").is_file()
