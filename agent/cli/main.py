"""Entry point of ``kyso-agent``: one sub-command per module listed in COMMAND_MODULES."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Iterator, Sequence
from types import FrameType
from typing import Any, NoReturn

from agent import __version__
from agent.cli.output import inert_streams, internal_error, print_error, tolerant_streams
from agent.cli.usage_text import usage_error_vi
from agent.config.paths import check_kyso_home
from agent.errors import KysoError, invalid_input

# A fault Kyso did not foresee (sysexits' EX_SOFTWARE); KysoError refusals exit with 2.
EXIT_INTERNAL = 70

# Each module has register(subparsers); adding a command is adding a line here.
COMMAND_MODULES = (
    "agent.cli.run_cmd",
    "agent.cli.demo_cmd",
    "agent.cli.tokens_cmd",
    "agent.cli.doctor_cmd",
    "agent.cli.xml_cmd",
    "agent.cli.cms_cmd",
    "agent.cli.pdf_cmd",
    "agent.cli.trust_cmd",
    "agent.cli.audit_cmd",
    "agent.cli.sites_cmd",
    "agent.cli.filesign_cmd",
)

# Commands whose start-up time matters, with the one module that registers each: `run` starts
# at every log-in on every accountant's PC, so it must not import the signing formats (pyHanko,
# xmlsec, signxml...) that only the other commands' modules load at import. sign-pdf signs
# 50 MB files: the XML stack it never uses cost it 12 MB of peak memory and 50 ms.
STARTUP_COMMANDS = {
    "run": "agent.cli.run_cmd",
    "sign-pdf": "agent.cli.pdf_cmd",
    "verify-pdf": "agent.cli.pdf_cmd",
}

DESCRIPTION = """\
Kyso — ký số bằng USB token từ trình duyệt / sign with your USB token from the browser.

Common tasks:
  kyso-agent demo-token init      create demo SoftHSM2 tokens and a test CA
  kyso-agent tokens               list plugged-in tokens
  kyso-agent certs                list certificates (use --json for scripts)
  kyso-agent trust install        let browsers trust Kyso's local https certificate
  kyso-agent run                  start the signing agent (wss://127.0.0.1:27443/v1/ws)
  kyso-agent doctor               find out why a token or certificate is not usable
  kyso-agent audit                list the signatures Kyso made (audit log, newest first)
"""


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (the global options take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are JSON (INPUT_INVALID, exit status 2) when the
    command line asks for --json: a script reading stdout gets a code, not usage text."""

    as_json = False  # set by build_parser from the argv it will parse

    def error(self, message: str) -> NoReturn:
        error = invalid_input(message, usage_error_vi(message))
        if not _Parser.as_json:
            # The usage line, then the same coded, two-language block as every other error.
            self.print_usage(sys.stderr)
            print_error(error)
            sys.stderr.write(f"  ({self.prog} --help)\n")
            sys.exit(2)
        print_error(error, as_json=True)
        sys.exit(2)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command; given the ``argv`` it will parse
    and naming a start-up command, with that command only (the others are not imported)."""
    _Parser.as_json = argv is not None and "--json" in argv
    parser = _Parser(
        prog="kyso-agent",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kyso-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = _command_of(argv) if argv is not None else None
    modules = (STARTUP_COMMANDS[command],) if command in STARTUP_COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    tolerant_streams()
    stop = _Stop()
    # Names, fields, subjects and labels from files and tokens reach the terminal inert. The
    # stop signals are handled from here on, not only once the command runs: start-up imports
    # take seconds, and a Ctrl-C or SIGTERM then must not print a traceback or die of it.
    with inert_streams(), stop.installed():
        try:
            return _run(argv, stop)
        except KeyboardInterrupt:  # before the command ran (importing, parsing)
            return _interrupted(stop, as_json="--json" in argv)
        except BrokenPipeError as exc:
            if _stdout_gone():  # `kyso-agent audit | head -1`: the reader has what it wanted
                return _reader_gone()
            # Another pipe (a child process's): a fault like any other.
            print_error(internal_error(exc), as_json="--json" in argv)
            return EXIT_INTERNAL


def _interrupted(stop: _Stop, *, as_json: bool) -> int:
    """A stop signal before the command started: nothing was done, say so and exit 128+N."""
    sys.stderr.write("Đã dừng / interrupted\n")
    if as_json:
        print_error(KysoError("USER_CANCELLED"), as_json=True)
    return 128 + (stop.signum or signal.SIGINT)


def _stdout_gone() -> bool:
    """True when nobody reads stdout any more (its pipe's reader closed it)."""
    stream = sys.__stdout__
    if stream is None:
        return True
    try:
        import select

        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows), no descriptor
        return True


def _reader_gone() -> int:
    """stdout's reader closed the pipe: no message (it would go nowhere useful) and no second
    error when Python flushes stdout at exit; the shell's status for a SIGPIPE death."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    return 128 + 13  # SIGPIPE


def _run(argv: list[str], stop: _Stop) -> int:
    """:func:`main` once the streams and the stop signals are set up."""
    with stop.starting():
        parser = build_parser(argv)
        args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # pyHanko logs what Kyso then reports in its own words (a file changed after a
        # signature is "Error in diff operation" with a traceback): its lines only with -v.
        logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        check_kyso_home()  # STATE_DIR_UNUSABLE, reported as any command's error
        result = func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(stop.run(result))
        return int(result or 0)
    except BrokenPipeError:
        raise  # main's: not a fault of Kyso's
    except KysoError as exc:
        print_error(exc, as_json=getattr(args, "json", False))
        return 2
    except Exception as exc:  # a fault Kyso did not foresee: a code and texts, the trace with -v
        log = logging.getLogger(__name__)
        if args.command == "run":  # the agent's own log is what support reads: the trace there
            log.exception("the agent stopped on an unexpected error")
        else:
            log.debug("%s failed", args.command, exc_info=True)
        print_error(internal_error(exc), as_json=getattr(args, "json", False))
        return EXIT_INTERNAL
    except (KeyboardInterrupt, asyncio.CancelledError):
        if stop.finished is not None:  # Ctrl-C while asyncio shut down after the command
            return int(stop.finished[0] or 0)
        sys.stderr.write("Đã dừng / interrupted\n")
        return 128 + (stop.signum or signal.SIGINT)


# Stopping a run the way Ctrl-C does: a service manager's SIGTERM, the terminal closed (SIGHUP).
_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


class _Stop:
    """SIGTERM and SIGHUP take Ctrl-C's path while a command runs: the command's task is
    cancelled (asyncio's own Ctrl-C handling), so every file gets its audit record, a signed
    copy already written is recorded as signed, and a --json report says what was done.
    A second signal interrupts at once; the previous handlers are back when the command ends."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # The command's return value once it ran to its end: a signal landing after that
        # (while asyncio shuts down) must not turn a finished, reported run into "interrupted".
        self.finished: tuple[Any] | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The handlers, for the block (only the main thread can set them)."""
        previous: dict[int, Any] = {}
        try:
            for signum in _STOP_SIGNALS:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored on purpose (nohup): stays ignored
                previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread (a test's worker): nothing to install
            pass
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """Start-up (importing the command modules, parsing): Ctrl-C is recorded here too, and
        a stop signal seen in the block ends it with KeyboardInterrupt at its end, even when
        the one raised at the signal was swallowed (lxml's module set-up ignores exceptions
        from the code it calls, a KeyboardInterrupt included). The command then runs with
        Python's own Ctrl-C again (asyncio.run installs its handler only over that one)."""
        installed, previous = False, None
        try:
            # Ignored on purpose (a background job of a script): it stays ignored.
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
                previous = signal.signal(signal.SIGINT, self._handle)
                installed = True
        except ValueError:  # not the main thread
            pass
        try:
            yield
        finally:
            if installed:
                signal.signal(signal.SIGINT, previous or signal.default_int_handler)
        if self.signum is not None:
            raise KeyboardInterrupt

    async def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run the command's coroutine as the task a signal cancels."""
        self._task, self._loop = asyncio.current_task(), asyncio.get_running_loop()
        try:
            result = await coro
            self.finished = (result,)
            return result
        finally:
            self._task = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = signum
        task, loop = self._task, self._loop
        if first and task is not None and loop is not None and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop from its select()
            return
        if first and self.finished is not None:
            return  # the command is done and said so: the process ends with its status
        raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
