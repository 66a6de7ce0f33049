"""A run stopped by SIGTERM (a service manager, a shutdown) or SIGHUP (the terminal closed)
takes Ctrl-C's path: every file gets its audit record, a signed copy on disk is recorded as
signed, the --json report says which files were done, and no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import agent.audit
from agent.cli import xml_cmd
from agent.cli.main import main
from agent.files import StagedFile
from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO, PIN

REPO = Path(__file__).resolve().parents[2]
NAMES = ("d01.xml", "d02.xml", "d03.xml")


class Stopped(Exception):
    """Raised by the test's own handler: a signal the command did not take over."""


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "pin").write_text(PIN + "\n")
    for name in NAMES:
        (folder / name).write_bytes(HOSO)
    return folder


@pytest.fixture
def guard() -> Any:
    """SIGTERM/SIGHUP raise Stopped in this test, not kill pytest, when main() does not handle
    them; the handlers are put back after."""

    def stopped(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    previous = {s: signal.signal(s, stopped) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield stopped
    for s, handler in previous.items():
        signal.signal(s, handler)


def _argv(demo: dict[str, Any], work: Path) -> list[str]:
    files = [str(work / name) for name in NAMES]
    pin = str(work.parent / "pin")
    cert = cert_thumbprint(demo, "org")
    return ["sign-xml", *files, "--cert", cert, "--pin-file", pin, "--remove-unsigned", "--json"]


def _records(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {r["file"]: r["result"] for r in map(json.loads, lines)}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_after_the_first_file_reports_and_records_what_was_done(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    guard: Any,
    signum: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = xml_cmd.written_copy
    writes: list[Path] = []

    def write_then_signal(copy: StagedFile) -> StagedFile:
        done = real(copy)
        writes.append(copy.target)
        if len(writes) == 1:
            signal.raise_signal(signum)  # delivered now, in the middle of the batch
        return done

    monkeypatch.setattr(xml_cmd, "written_copy", write_then_signal)
    assert main(_argv(demo, work)) == 128 + signum
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the partial report, valid JSON
    assert report["interrupted"] is True and (report["signed"], report["failed"]) == (1, 2)
    results = {Path(r["file"]).name: r for r in report["results"]}
    assert results["d01.xml"]["ok"] and results["d01.xml"]["removed_unsigned"]
    assert {results[n]["error"]["code"] for n in NAMES[1:]} == {"USER_CANCELLED"}
    assert "interrupted" in captured.err and "Traceback" not in captured.err
    assert _records(log_path) == {
        "d01.xml": "OK",
        "d02.xml": "USER_CANCELLED",
        "d03.xml": "USER_CANCELLED",
    }
    assert sorted(p.name for p in work.iterdir()) == ["d01_signed.xml", "d02.xml", "d03.xml"]
    # The test's handlers are back: the command's were for its run only.
    assert signal.getsignal(signal.SIGTERM) is guard and signal.getsignal(signal.SIGHUP) is guard


def test_a_copy_written_before_an_interruption_is_recorded_as_signed(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Interrupted between the write and the read-back (a second Ctrl-C lands anywhere): the
    key did sign, so the copy has its OK record; it was never read back, so it never takes its
    name: it is set aside as .unverified (said on stderr), the report does not call it signed,
    and the original is kept."""

    def interrupted(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(xml_cmd, "check_xml_signature", interrupted)  # the read-back
    assert main(_argv(demo, work)) == 130
    captured = capsys.readouterr()
    first = json.loads(captured.out)["results"][0]
    assert not first["ok"] and first["error"]["code"] == "USER_CANCELLED"
    assert _records(log_path) == {
        "d01.xml": "OK",
        "d02.xml": "USER_CANCELLED",
        "d03.xml": "USER_CANCELLED",
    }
    assert not (work / "d01_signed.xml").exists() and (work / "d01.xml").exists()
    assert (work / "d01_signed.xml.unverified").exists()
    assert "d01_signed.xml.unverified" in captured.err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_real_process_stopped_while_the_pin_is_read_says_so_in_its_report(
    demo: dict[str, Any], work: Path, tmp_path: Path, signum: int
) -> None:
    """The kyso-agent process itself, its PIN file a FIFO: the signal arrives while it waits
    for the PIN (known, not guessed: our open of the FIFO returns once it has opened it)."""
    fifo = tmp_path / "pin-fifo"
    os.mkfifo(fifo)
    argv = _argv(demo, work)
    argv[argv.index("--pin-file") + 1] = str(fifo)
    log = agent.audit.default_path()  # the session's state root: the demo tokens are there
    before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        # As a terminal's process has them: under nohup SIGHUP is inherited ignored, and the
        # CLI keeps an ignored signal ignored.
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )

    def unblock_if_it_ends() -> None:  # a process that ended first must not hang the test
        proc.wait()
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))

    threading.Thread(target=unblock_if_it_ends, daemon=True).start()
    with fifo.open("w") as pin:  # returns once the agent opened the FIFO to read the PIN
        proc.send_signal(signum)
        with contextlib.suppress(BrokenPipeError):
            pin.write(PIN + "\n")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()
    report = json.loads(out)
    assert report["interrupted"] is True and report["signed"] == 0
    assert {r["error"]["code"] for r in report["results"]} == {"USER_CANCELLED"}
    assert b"Traceback" not in err
    records = log.read_text(encoding="utf-8").splitlines()[before:]
    assert sorted(json.loads(r)["result"] for r in records) == ["USER_CANCELLED"] * 3
    assert sorted(p.name for p in work.iterdir()) == list(NAMES)  # nothing lost, nothing signed


def test_a_hangup_ignored_on_purpose_stays_ignored(
    demo: dict[str, Any], work: Path, log_path: Path, guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nohup kyso-agent ...`: SIGHUP is ignored and must stay so during the run."""
    seen: list[Any] = []
    real = xml_cmd.written_copy

    def write(copy: StagedFile) -> StagedFile:
        seen.append((signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGTERM)))
        return real(copy)

    monkeypatch.setattr(xml_cmd, "written_copy", write)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    assert main(_argv(demo, work)) == 0
    hup, term = seen[0]
    assert hup is signal.SIG_IGN and term is not guard  # SIGTERM is the command's meanwhile
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is guard


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_command_finished_keeps_its_status_and_report(
    demo: dict[str, Any],
    work: Path,
    guard: Any,
    signum: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Red-team: a signal landing while asyncio shut down, after every file was signed and the
    report printed, made main() answer 128+signal, "interrupted": a script trusting the exit
    status would sign again and meet files already removed."""
    import agent.cli.main as cli_main

    real_run = cli_main.asyncio.run

    def run_then_signal(coro: Any) -> Any:
        result = real_run(coro)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt  # asyncio.run's own SIGINT handler, its task done
        signal.raise_signal(signum)  # delivered to main()'s handler, the command done
        return result

    monkeypatch.setattr(cli_main.asyncio, "run", run_then_signal)
    assert main(_argv(demo, work)) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["signed"] == len(NAMES) and "interrupted" not in report
    assert "interrupted" not in captured.err


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_ctrl_c_at_the_terminal_pin_prompt_ends_the_run_and_gives_the_echo_back(
    demo: dict[str, Any], work: Path
) -> None:
    """getpass ran on a thread asyncio.run waits for at exit: after Ctrl-C at the PIN prompt
    the report was printed, then the process sat there, the terminal's echo off, until the
    user pressed Enter. Now it ends at once, and the terminal echoes again."""
    import pty
    import select
    import termios
    import time

    env = {k: v for k, v in os.environ.items() if k != "KYSO_PIN_FILE"}
    argv = ["sign-xml", str(work / NAMES[0]), "--cert", cert_thumbprint(demo, "org")]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on the pseudo-terminal, asking the PIN there
        # As a shell starts a foreground command: Ctrl-C at its default, whatever the test
        # process's state was at the fork (an ignored or blocked SIGINT survives exec).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "agent.cli", *argv], env)
    seen, interrupted_at, echo_after = b"", None, None
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):
                    seen += os.read(fd, 4096)
            if interrupted_at is None and b"PIN for token" in seen:
                time.sleep(0.3)  # getpass has turned the echo off by now
                assert not termios.tcgetattr(fd)[3] & termios.ECHO
                os.kill(pid, signal.SIGINT)
                interrupted_at = time.monotonic()
            if interrupted_at is not None and b"interrupted" in seen and echo_after is None:
                with contextlib.suppress(termios.error):
                    echo_after = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"still running 90 s later: {seen[-500:]!r}")
    finally:
        os.close(fd)
    assert interrupted_at is not None, seen[-500:]
    assert time.monotonic() - interrupted_at < 15, "the run did not end at Ctrl-C"
    assert os.waitstatus_to_exitcode(status) == 130
    assert echo_after is True, seen[-500:]
    assert (work / NAMES[0]).read_bytes() == HOSO  # nothing signed, nothing lost
