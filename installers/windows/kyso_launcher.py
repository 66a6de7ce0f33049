"""Kyso's Windows launcher, installed as ``C:\\Program Files\\Kyso\\kyso_launcher.pyw``.

The MSI cannot carry a frozen executable yet (it is built on Linux), so it installs the Kyso
wheel and this script, which runs with the machine's own Python 3.11+ (the ``py``/``pyw``
launcher from python.org). On first use, and after every upgrade, it creates the user's private
environment ``%LOCALAPPDATA%\\Kyso\\venv`` and installs the wheel into it: from the wheels
shipped next to it when they are all there (offline), otherwise from the package index pip is
configured for (PyPI or the company's mirror).

  pyw -3 kyso_launcher.pyw autostart   logon / Start menu: trust the local CA if needed, then
                                       run the agent with its tray icon (one per user)
  py -3 kyso_launcher.pyw ARGS...      any kyso-agent command (kyso-agent.cmd does this)

Only the standard library is used here: this file runs before Kyso is installed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
MIN_PYTHON = (3, 11)


def state_dir() -> Path:
    """``%LOCALAPPDATA%\\Kyso`` (or ``~/.local/share/kyso-launcher`` elsewhere, for tests)."""
    base = os.environ.get("LOCALAPPDATA")
    return Path(base) / "Kyso" if base else Path.home() / ".local" / "share" / "kyso-launcher"


def venv_python(venv: Path, *, windowless: bool = False) -> Path:
    """The interpreter inside ``venv``: ``pythonw.exe`` when no console window is wanted."""
    if os.name == "nt":
        return venv / "Scripts" / ("pythonw.exe" if windowless else "python.exe")
    return venv / "bin" / "python"


def find_wheel(wheels: Path) -> Path:
    """The one Kyso wheel shipped in ``wheels``."""
    found = sorted(wheels.glob("kyso_agent-*.whl"))
    if len(found) != 1:
        raise SystemExit(f"Kyso: expected one kyso_agent wheel in {wheels}, found {len(found)}")
    return found[0]


def wheel_stamp(wheel: Path) -> str:
    """What identifies the installed wheel: its name and SHA-256 (a same-version rebuild
    differs in content, so it is installed too)."""
    return f"{wheel.name} sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}"


def needs_install(venv: Path, wheel: Path) -> bool:
    """True when the environment is missing or was installed from another wheel (upgrade)."""
    stamp = venv / "kyso-wheel.txt"
    if not venv_python(venv).exists() or not stamp.exists():
        return True
    return stamp.read_text(encoding="utf-8").strip() != wheel_stamp(wheel)


def _pip(venv: Path) -> list[str]:
    return [str(venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check"]


def install_commands(venv: Path, wheel: Path) -> list[list[str]]:
    """pip commands to try in order: offline from the shipped wheels, then from the index."""
    local = ["--find-links", str(wheel.parent), str(wheel)]
    return [[*_pip(venv), "--no-index", *local], [*_pip(venv), *local]]


def exact_wheel_command(venv: Path, wheel: Path) -> list[str]:
    """Put this very wheel in place even when pip thinks the version is already there."""
    return [*_pip(venv), "--no-index", "--no-deps", "--force-reinstall", str(wheel)]


def _no_window() -> int:
    return getattr(subprocess, "CREATE_NO_WINDOW", 0)


def _run(cmd: Sequence[str], log: IO[str]) -> int:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    return subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, creationflags=_no_window())


def ensure_installed(venv: Path, wheel: Path, log: IO[str]) -> None:
    """Create or refresh the user's environment when ``needs_install`` says so."""
    if not needs_install(venv, wheel):
        return
    if sys.version_info < MIN_PYTHON:
        raise SystemExit("Kyso needs Python 3.11 or newer (python.org, with the py launcher).")
    if not venv_python(venv).exists() and _run([sys.executable, "-m", "venv", str(venv)], log):
        raise SystemExit(f"Kyso: could not create {venv} (see {log.name})")
    stamp = venv / "kyso-wheel.txt"
    stamp.unlink(missing_ok=True)  # an interrupted install is retried next time
    if not any(_run(cmd, log) == 0 for cmd in install_commands(venv, wheel)):
        raise SystemExit(f"Kyso: installing {wheel.name} failed (see {log.name})")
    if _run(exact_wheel_command(venv, wheel), log) != 0:
        raise SystemExit(f"Kyso: installing {wheel.name} failed (see {log.name})")
    stamp.write_text(wheel_stamp(wheel) + "\n", encoding="utf-8")


@contextlib.contextmanager
def single_instance(lock_path: Path) -> Iterator[bool]:
    """Yield True when this is the only autostarted agent of this user, False otherwise.

    A second start (logon plus a click on the Start-menu entry) must not bring up a second
    agent on the fallback port; the lock lives as long as this launcher waits for the agent.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


def main(argv: Sequence[str]) -> int:
    """Bootstrap the environment, then run ``autostart`` or the given kyso-agent command."""
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    venv = state / "venv"
    wheel = find_wheel(HERE / "wheels")
    with open(state / "launcher.log", "a", encoding="utf-8") as log:
        log.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')} {list(argv)}\n")
        if list(argv[:1]) != ["autostart"]:
            _ensure_logged(venv, wheel, log)
            return subprocess.call([str(venv_python(venv)), "-m", "agent.cli.main", *argv])
        with single_instance(state / "agent.lock") as alone:
            if not alone:
                log.write("an agent started by the launcher is already running\n")
                return 0
            _ensure_logged(venv, wheel, log)
            agent = [str(venv_python(venv, windowless=True)), "-m", "agent.cli.main"]
            # First start (or a renewed CA): trust the local CA for this user. Windows shows its
            # own confirmation for the CurrentUser Root store; that is the user's consent.
            if _run([*agent, "trust", "status"], log) != 0:
                _run([*agent, "trust", "install"], log)
            return _run([*agent, "run"], log)


def _ensure_logged(venv: Path, wheel: Path, log: IO[str]) -> None:
    try:
        ensure_installed(venv, wheel, log)
    except SystemExit as exc:  # under pyw nobody sees stderr: the log must say why
        log.write(f"{exc}\n")
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
