"""Kyso's Windows launcher, installed as ``C:\\Program Files\\Kyso\\kyso_launcher.pyw``.

The MSI cannot carry a frozen executable yet (it is built on Linux), so it installs the Kyso
wheel and this script, which runs with the machine's own Python 3.11+ (the ``py``/``pyw``
launcher from python.org). On first use, and after every upgrade, it creates the user's private
environment ``%LOCALAPPDATA%\\Kyso\\venv`` and installs the wheel into it: from the wheels
shipped next to it when they are all there (offline), otherwise from the package index pip is
configured for (PyPI or the company's mirror).

  pyw -3 kyso_launcher.pyw autostart   Start menu: trust the local CA if needed, then run the
                                       agent with its tray icon (one per user)
  pyw -3 kyso_launcher.pyw autostart --logon
                                       the same at log-on (the Run entries), unless this user
                                       turned "Start Kyso at log-on" off in the tray
  pyw -3 kyso_launcher.pyw sign-files FILE
                                       Explorer's "Ký số bằng Kyso": Explorer starts one
                                       launcher per selected file; they gather the files so
                                       that one window signs them all (see collect_batch)
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
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
# The tray's per-user log-on choice (agent/ui/tray_winstart.py writes it): DWORD 0 = off.
OPT_OUT_KEY = r"Software\Kyso\Agent"
OPT_OUT_VALUE = "StartAtLogon"
MIN_PYTHON = (3, 11)
MB_ICONERROR = 0x10
MB_SETFOREGROUND = 0x10000
MB_TOPMOST = 0x40000


class LauncherError(SystemExit):
    """A start-up failure the user must be told about, in English and Vietnamese."""

    def __init__(self, en: str, vi: str) -> None:
        super().__init__(en)
        self.en = en
        self.vi = vi


def failure_text(exc: BaseException, log: Path) -> tuple[str, str]:
    """Title and body of the message box for a failed start: what failed, in Vietnamese then
    English, where the log is and what to do (the launcher runs under pyw: no console)."""
    en = getattr(exc, "en", None) or str(exc) or type(exc).__name__
    vi = getattr(exc, "vi", None) or f"Lỗi không mong đợi: {en}"
    title = "Kyso – không khởi động được / could not start"
    body = (
        f"Kyso không khởi động được.\n{vi}\n\nNhật ký: {log}\n"
        "Hãy gửi tệp nhật ký này cho bộ phận IT.\n\n"
        f"Kyso could not start.\n{en}\n\nLog: {log}\n"
        "Please send this log file to your IT department."
    )
    return title, body


def show_error(title: str, body: str) -> bool:
    """A message box on Windows (True when shown); elsewhere nothing (False)."""
    if os.name != "nt":
        return False
    import ctypes

    flags = MB_ICONERROR | MB_SETFOREGROUND | MB_TOPMOST
    ctypes.windll.user32.MessageBoxW(None, body, title, flags)  # type: ignore[attr-defined]
    return True


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
        raise LauncherError(
            f"Kyso: expected one kyso_agent wheel in {wheels}, found {len(found)}. Reinstall Kyso.",
            f"Thư mục {wheels} phải có đúng một gói kyso_agent nhưng có {len(found)}. "
            "Hãy cài lại Kyso.",
        )
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


def install_failed(wheel: Path) -> LauncherError:
    """The error for a pip install that failed offline and from the index."""
    offline = any(not w.name.startswith("kyso_agent-") for w in wheel.parent.glob("*.whl"))
    hint_en = (
        "The shipped wheels did not install: reinstall Kyso."
        if offline
        else "This computer needs access to PyPI or the company's pip mirror for the first start."
    )
    hint_vi = (
        "Các gói kèm theo bộ cài không cài được: hãy cài lại Kyso."
        if offline
        else "Lần khởi động đầu tiên, máy cần truy cập được PyPI hoặc máy chủ pip của công ty."
    )
    return LauncherError(
        f"Kyso: installing {wheel.name} failed. {hint_en}",
        f"Kyso: cài {wheel.name} không thành công. {hint_vi}",
    )


def ensure_installed(venv: Path, wheel: Path, log: IO[str]) -> None:
    """Create or refresh the user's environment when ``needs_install`` says so."""
    if not needs_install(venv, wheel):
        return
    if sys.version_info < MIN_PYTHON:
        raise LauncherError(
            "Kyso needs Python 3.11 or newer (python.org, with the py launcher).",
            "Kyso cần Python 3.11 trở lên (python.org, có trình khởi chạy py).",
        )
    if not venv_python(venv).exists() and _run([sys.executable, "-m", "venv", str(venv)], log):
        raise LauncherError(
            f"Kyso: could not create {venv}.",
            f"Kyso: không tạo được môi trường Python {venv}.",
        )
    stamp = venv / "kyso-wheel.txt"
    stamp.unlink(missing_ok=True)  # an interrupted install is retried next time
    if not any(_run(cmd, log) == 0 for cmd in install_commands(venv, wheel)):
        raise install_failed(wheel)
    if _run(exact_wheel_command(venv, wheel), log) != 0:
        raise install_failed(wheel)
    stamp.write_text(wheel_stamp(wheel) + "\n", encoding="utf-8")


def read_opt_out() -> object | None:
    """HKCU ``Software\\Kyso\\Agent`` ``StartAtLogon``, or None (not set, not Windows)."""
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, OPT_OUT_KEY) as handle:
            value, _kind = winreg.QueryValueEx(handle, OPT_OUT_VALUE)
    except OSError:
        return None
    return value


def skip_logon_start(argv: Sequence[str], read: Callable[[], object | None] = read_opt_out) -> bool:
    """True for a log-on start (``autostart --logon``) of a user who turned it off in the tray;
    the machine-wide Run entry cannot be removed per user, so the launcher honours the choice."""
    return list(argv[:1]) == ["autostart"] and "--logon" in argv[1:] and read() == 0


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


# Explorer's verb hand-off. A static verb's command line gets one file ("%1"): with several
# files selected, Explorer starts one launcher per file, MultiSelectModel=Player or not. Each
# launcher posts its file in the user's own folder; the first to take the lock gathers them
# until none has arrived for HANDOFF_QUIET seconds and signs them all in one window.
HANDOFF_QUIET = 1.0  # Explorer starts them together: a second without a new one is the end
HANDOFF_LIMIT = 15.0  # a batch is closed after this long even if files keep coming
HANDOFF_STALE = 120.0  # a request older than this (a crashed launcher's) is dropped
HANDOFF_POLL = 0.05
HANDOFF_ROUNDS = 5


def explorer_file(argv: Sequence[str]) -> str | None:
    """The file of Explorer's ``sign-files FILE`` (exactly that form), else None."""
    if len(argv) == 2 and argv[0] == "sign-files" and not argv[1].startswith("-"):
        return argv[1]
    return None


def post_request(spool: Path, path: str) -> Path:
    """Leave ``path`` (made absolute) for the gathering launcher: written whole, then renamed,
    so a reader never sees half a name. Names sort in the order the files were posted."""
    spool.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}"
    part = spool / f"{name}.part"
    part.write_text(os.path.abspath(path), encoding="utf-8")
    final = spool / f"{name}.req"
    os.replace(part, final)
    return final


def claim_requests(spool: Path, now: float | None = None) -> list[str]:
    """Take every posted file (each once: whoever deletes the request has it); requests older
    than HANDOFF_STALE are deleted unread (never signed as a surprise days later)."""
    now = time.time() if now is None else now
    taken = []
    for request in sorted(spool.glob("*.req")):
        try:
            stale = now - request.stat().st_mtime > HANDOFF_STALE
            text = request.read_text(encoding="utf-8")[:32768]
            request.unlink()
        except OSError:
            continue  # another launcher took it first
        if not stale and text:
            taken.append(text)
    return taken


def drain_until_quiet(
    spool: Path,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Claim requests until none has arrived for HANDOFF_QUIET seconds (HANDOFF_LIMIT at most)."""
    start = last = clock()
    got: list[str] = []
    while True:
        new = claim_requests(spool)
        now = clock()
        if new:
            got += new
            last = now
        if now - last >= HANDOFF_QUIET or now - start >= HANDOFF_LIMIT:
            return got
        sleep(HANDOFF_POLL)


def collect_batch(
    state: Path, path: str, drain: Callable[[Path], list[str]] = drain_until_quiet
) -> list[str]:
    """Every file to sign in this launcher's window, or [] when another launcher has taken
    this one's file (it signs it). The lock is released before the window opens; a file posted
    while it was held is seen by the check after the release, so none is ever left behind."""
    spool = state / "handoff"
    post_request(spool, path)
    batch: list[str] = []
    for _round in range(HANDOFF_ROUNDS):  # bounded: a request Windows will not let us delete
        with single_instance(state / "handoff.lock") as leader:
            if not leader:
                return batch  # the launcher holding the lock gathers what is left
            batch += drain(spool)
        if not any(spool.glob("*.req")):
            break
    return batch


def main(argv: Sequence[str]) -> int:
    """Bootstrap the environment, then run ``autostart`` or the given kyso-agent command.

    Under ``autostart`` (pyw: no console) a failure is shown in a message box as well as
    written to the log: a user whose agent never started must be told why."""
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    log_path = state / "launcher.log"
    if list(argv[:1]) != ["autostart"]:
        return _main(argv, state, log_path)
    try:
        code = _main(argv, state, log_path)
    except Exception as exc:  # anything at all: the user would otherwise see nothing
        with open(log_path, "a", encoding="utf-8") as log:
            traceback.print_exc(file=log)
        show_error(*failure_text(exc, log_path))
        return 1
    except SystemExit as exc:
        show_error(*failure_text(exc, log_path))
        raise
    if code:
        show_error(
            *failure_text(
                LauncherError(
                    f"The agent stopped with exit code {code}.",
                    f"Tác nhân ký đã dừng với mã lỗi {code}.",
                ),
                log_path,
            )
        )
    return code


def _main(argv: Sequence[str], state: Path, log_path: Path) -> int:
    venv = state / "venv"
    wheel = find_wheel(HERE / "wheels")
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')} {list(argv)}\n")
        if list(argv[:1]) != ["autostart"]:
            one = explorer_file(argv)
            if one is not None:
                files = collect_batch(state, one)
                if not files:
                    log.write(f"{one}: handed to the launcher gathering Explorer's files\n")
                    return 0
                argv = ["sign-files", *files]
                log.write(f"signing {len(files)} file(s) from Explorer in one window\n")
            _ensure_logged(venv, wheel, log)
            return subprocess.call([str(venv_python(venv)), "-m", "agent.cli.main", *argv])
        if skip_logon_start(argv):
            log.write("log-on start turned off by this user (tray setting)\n")
            return 0
        # The tray's log-on setting registers this launcher for the user (tray_winstart.py).
        os.environ["KYSO_LAUNCHER"] = str(Path(__file__).resolve())
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
