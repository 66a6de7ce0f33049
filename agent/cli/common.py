"""What every offline signing command shares: the PIN source and the choice of certificate.

``sign-cms`` and ``sign-xml`` (and later commands) behave the same way:

* PIN: from ``--pin-file`` or ``$KYSO_PIN_FILE`` for automation, otherwise asked on the
  terminal without echo. Asked once per login; a wrong PIN is never retried automatically.
* Certificate: ``--cert THUMBPRINT`` (a unique prefix of at least 8 hex digits is enough, as
  ``kyso-agent certs`` prints 16), optionally narrowed by ``--token LABEL_OR_SERIAL``; without
  it the only usable certificate is taken, and with several the user is asked to choose with
  ``--cert``. One certificate on two tokens (a backup copy) needs ``--token`` as well: the
  copy signed, and the token whose PIN is asked, is never picked for the user.
* Audit: every file (or digest) a command was asked to sign leaves one record in the same audit
  log as the agent's signatures (:class:`SignatureAudit`), whether it was signed or not. No
  signature without its record, as in the agent: a log that cannot be written refuses the run
  with AUDIT_UNAVAILABLE before the token is opened (:meth:`SignatureAudit.require`, a real
  write); a signed copy whose record then fails is deleted (:meth:`SignatureAudit.unrecorded`)
  and nothing more is signed in that run. A copy that replaces an earlier file (``--force``)
  replaces it only once recorded (:func:`agent.cli.inputs.placed_last`).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import getpass
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agent.audit import AuditLog, AuditRecord, Digests, certificate_fields, file_name
from agent.cli.inputs import copy_paths, remove_output
from agent.errors import KysoError, invalid_input
from agent.files import PIN_FILE_MAX_BYTES, StagedFile
from agent.tokens.model import TokenCertificate
from agent.tokens.pin import PinProvider, PinRequest, StaticPinProvider
from agent.tokens.service import TokenService
from agent.ui.untrusted import render_untrusted

PIN_FILE_ENV = "KYSO_PIN_FILE"
MIN_THUMBPRINT_PREFIX = 8


def add_module_argument(parser: argparse.ArgumentParser) -> None:
    """--module PATH (repeatable): one more PKCS#11 module to try, the same in every command."""
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="PATH",
        help="also try this PKCS#11 module (repeatable)",
    )


def add_signing_arguments(parser: argparse.ArgumentParser) -> None:
    """--cert, --token and --pin-file, with the same help everywhere."""
    parser.add_argument(
        "--cert",
        metavar="THUMBPRINT",
        help="certificate to sign with (SHA-256 thumbprint or a unique prefix of "
        "8+ hex digits, see 'kyso-agent certs')",
    )
    parser.add_argument(
        "--token",
        metavar="LABEL_OR_SERIAL",
        help="only consider certificates on the token with this label or serial number "
        "(needed when one certificate is on several tokens)",
    )
    parser.add_argument(
        "--pin-file",
        metavar="FILE",
        help=f"read the PIN from FILE (automation; also ${PIN_FILE_ENV}); "
        "otherwise it is asked on the terminal, never echoed",
    )


def read_pin_file(path: str | Path) -> str:
    """The PIN stored in ``path`` (first line, surrounding whitespace removed)."""
    # A pipe is fine (--pin-file <(pass show token-pin)); a device such as /dev/zero is not
    # read past a PIN file's size, nor held in memory.
    try:
        with open(path, "rb") as handle:
            data = handle.read(PIN_FILE_MAX_BYTES + 1)
        if len(data) > PIN_FILE_MAX_BYTES:
            raise invalid_input(
                f"the PIN file {path} is far too long",
                f"tệp mã PIN {path} dài quá mức, không phải một tệp chỉ chứa mã PIN",
            )
        # utf-8-sig: Notepad's "UTF-8 with BOM" puts U+FEFF first, which strip() keeps; sent
        # to the token, that PIN is wrong, and a scheduled job would use up a try per run.
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid_input(
            f"cannot read the PIN file {path}", f"không đọc được tệp mã PIN {path}"
        ) from exc
    lines = text.splitlines()
    pin = lines[0].strip() if lines else ""
    if not pin:
        raise invalid_input(f"the PIN file {path} is empty", f"tệp mã PIN {path} đang trống")
    return pin


class TerminalPinProvider:
    """Asks for the PIN on the controlling terminal, without echo (``getpass``)."""

    async def get_pin(self, request: PinRequest) -> str | None:
        """Prompt once; Ctrl-C or end of input cancels (returns None)."""
        who = request.certificate.subject_display if request.certificate else ""
        if request.state.final_try:
            sys.stderr.write(
                "CẢNH BÁO: chỉ còn MỘT lần nhập PIN trước khi token bị khóa.\n"
                "WARNING: ONE try is left before the token locks.\n"
            )
        elif request.state.count_low:
            sys.stderr.write(
                "Lưu ý: lần trước đã nhập sai PIN. / Note: a wrong PIN was entered before.\n"
            )
        # getpass writes to the terminal itself, past the CLI's inert streams.
        label, who = render_untrusted(request.token_label, 64), render_untrusted(who, 120)
        prompt = f"Mã PIN của token '{label}' ({who})\nPIN for token '{label}': "
        try:
            pin = await ask_hidden(prompt)
        except KeyboardInterrupt:
            return None
        except EOFError:
            if has_terminal():
                return None  # Ctrl-D at the prompt: the user's "no"
            # Nobody was asked (cron, CI, a service): not a cancel, a missing PIN source.
            raise invalid_input(
                "no PIN: there is no terminal to ask it on and nothing came on standard input; "
                "give --pin-file FILE (or set KYSO_PIN_FILE)",
                "thiếu mã PIN: không có cửa sổ dòng lệnh để hỏi và đầu vào chuẩn không có gì; "
                "hãy dùng --pin-file TỆP (hoặc đặt biến KYSO_PIN_FILE)",
            ) from None
        return pin or None


def tcp_port(value: str) -> int:
    """argparse ``type=`` for a port to listen on: 1 to 65535 (checked before anything starts,
    not when a child process binds)."""
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1 to 65535)")
    return port


def tsa_url(value: str) -> str:
    """argparse ``type=`` for ``--tsa``: an http(s) address with a host (a wrong one used to
    be reported as "the timestamp authority did not answer", after the PIN)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an http:// or https:// address of a timestamp authority"
        )
    return value


def has_terminal() -> bool:
    """True when a person could be asked: a controlling terminal (what getpass reads first)
    or a terminal on standard input."""
    if os.name == "posix":
        try:
            os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
            return True
        except OSError:
            pass
    return bool(sys.stdin is not None and sys.stdin.isatty())


async def ask_hidden(prompt: str) -> str:
    """``getpass`` on a daemon thread: the event loop goes on, and Ctrl-C (the command's task
    cancelled) ends the command at once. ``asyncio.to_thread`` would make the exit wait for
    the thread, still blocked reading the terminal, with echo off, until Enter. On
    cancellation the terminal's settings from before the prompt are put back (getpass never
    gets to), and the thread is left to end with the process."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(outcome: str | BaseException) -> None:
        if answer.done():
            return
        if isinstance(outcome, BaseException):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)

    def ask() -> None:
        outcome: str | BaseException
        try:
            outcome = getpass.getpass(prompt)
        except BaseException as exc:  # EOFError, KeyboardInterrupt: the caller's to judge
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, outcome)

    terminal = _TerminalSettings.save()
    threading.Thread(target=ask, name="kyso-pin-prompt", daemon=True).start()
    try:
        answered = await answer
    except asyncio.CancelledError:
        terminal.restore()
        # Cancelled before getpass turned the echo off, it still will: put it back at exit too.
        atexit.register(terminal.restore_and_close)
        sys.stderr.write("\n")
        raise
    except BaseException:
        terminal.close()
        raise
    terminal.close()
    return answered


class _TerminalSettings:
    """The controlling terminal's settings (echo on), to put back after an abandoned prompt.
    Nothing where there is no terminal or no termios (Windows: its console restores itself)."""

    def __init__(self, fd: int | None = None, attributes: list[Any] | None = None) -> None:
        self._fd = fd
        self._attributes = attributes

    @classmethod
    def save(cls) -> _TerminalSettings:
        try:
            import termios

            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except (ImportError, OSError):
            return cls()
        try:
            return cls(fd, termios.tcgetattr(fd))
        except termios.error:
            os.close(fd)
            return cls()

    def restore(self) -> None:
        if self._fd is not None and self._attributes is not None:
            import termios

            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self._fd, termios.TCSANOW, self._attributes)

    def restore_and_close(self) -> None:
        self.restore()
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def pin_provider(pin_file: str | None) -> PinProvider:
    """``--pin-file``, else ``$KYSO_PIN_FILE``, else the terminal."""
    path = pin_file or os.environ.get(PIN_FILE_ENV)
    if path:
        return StaticPinProvider(read_pin_file(path))
    return TerminalPinProvider()


def _usable(cert: TokenCertificate) -> bool:
    return cert.has_private_key and not cert.info.problems()


async def choose_certificate(
    service: TokenService, thumbprint: str | None = None, token_label: str | None = None
) -> TokenCertificate:
    """The certificate the user means, or a KysoError saying how to name it.

    Raises CERT_NOT_FOUND (nothing matches), CERT_CHOICE_NEEDED (several usable ones and no
    --cert, or one certificate on several tokens: run again with --token), INPUT_INVALID (a
    thumbprint prefix that is too short or names several certificates).
    """
    certs = await service.list_certificates()
    if token_label is not None:  # a label, or a serial when two tokens share a label
        certs = [c for c in certs if token_label in (c.token.label, c.token.serial)]
    if thumbprint:
        wanted = thumbprint.replace(":", "").strip().lower()
        if len(wanted) < MIN_THUMBPRINT_PREFIX:
            raise invalid_input(
                "give at least 8 hex digits of the certificate thumbprint",
                "hãy ghi ít nhất 8 chữ số hệ 16 của dấu vân tay (thumbprint) chứng thư số",
            )
        matches = [c for c in certs if c.thumbprint.startswith(wanted)]
        if len(matches) > 1 and len({c.thumbprint for c in matches}) == 1:
            # One certificate, several copies (a backup token): more digits cannot tell them
            # apart; the token can. The choices list each copy with its token and serial.
            ready = [c for c in matches if _usable(c)] or matches
            if len(ready) == 1:  # the only copy with its key: no choice to make
                return ready[0]
            raise KysoError(
                "CERT_CHOICE_NEEDED",
                {"count": len(ready), "choices": describe_choices(ready), "copies": True},
            )
        if len(matches) > 1:
            raise invalid_input(
                f"thumbprint prefix {wanted} matches {len(matches)} certificates; give more digits",
                f"phần đầu dấu vân tay {wanted} khớp với {len(matches)} chứng thư số; "
                "hãy ghi thêm chữ số",
            )
        if not matches:
            raise KysoError("CERT_NOT_FOUND", {"thumbprint": wanted})
        return matches[0]
    usable = [c for c in certs if _usable(c)]
    if len(usable) == 1:
        return usable[0]
    if not usable:
        raise KysoError("CERT_NOT_FOUND", {"thumbprint": ""})
    raise KysoError(
        "CERT_CHOICE_NEEDED", {"count": len(usable), "choices": describe_choices(usable)}
    )


def describe_choices(certs: list[TokenCertificate]) -> str:
    """One line per certificate: thumbprint (whole, to copy into --cert), holder, identifier,
    token."""
    lines = []
    for c in certs:
        ident = f"MST:{c.info.mst}" if c.info.mst else f"CCCD:{c.info.cccd}" if c.info.cccd else ""
        where = f"[{c.token.label} · serial {c.token.serial}]"  # --token takes either
        lines.append(f"  {c.thumbprint}  {c.info.subject_display}  {ident}  {where}")
    return "\n".join(lines)


def print_choices_hint(error: KysoError) -> None:
    """After CERT_CHOICE_NEEDED, show the candidates so the user can copy a thumbprint."""
    choices: Any = error.details.get("choices")
    if error.code == "CERT_CHOICE_NEEDED" and choices:
        sys.stderr.write("Chứng thư số dùng được / usable certificates:\n" + choices + "\n")
    if error.code == "CERT_CHOICE_NEEDED" and error.details.get("copies"):
        sys.stderr.write(
            "Cùng một chứng thư số có trên nhiều token: thêm --token <nhãn hoặc số sê-ri của "
            "token> để chọn token ký.\n"
            "The same certificate is on several tokens: add --token <the token's label or "
            "serial> to choose the token that signs.\n"
        )


def copy_deleted(entry: dict[str, Any]) -> bool:
    """Whether a result entry is a signed copy deleted because its record could not be stored
    (:meth:`SignatureAudit.unrecorded`): the record to write for that file is this failure."""
    error = entry.get("error") or {}
    return error.get("code") == "AUDIT_UNAVAILABLE" and bool(
        (error.get("details") or {}).get("output_removed")
    )


class SignatureAudit:
    """The audit records of one signing command: one per file (or digest) it was asked to sign.

    The same record type and log as the agent's (``agent.audit``), channel ``cli``, with the
    input's file name where the agent has the page's origin. Never the PIN, never the content.
    """

    def __init__(
        self, method: str, kind: str, *, profile: str | None = None, log: AuditLog | None = None
    ) -> None:
        self.method = method
        self.kind = kind
        self.profile = profile
        self.log = log or AuditLog()
        self.certificate: TokenCertificate | None = None  # set once chosen
        # The certificate's revocation status as checked before the PIN, for the --json
        # report: a script reading only the JSON must know when it could not be checked.
        self.revocation: dict[str, str] | None = None
        self._done: set[str | None] = set()
        self._warned = False
        # The log lines the last failed record left pending: a signature's, taken back when
        # its copy is deleted (unrecorded), so the log never says signed for a missing file.
        self._unstored: tuple[bytes, ...] = ()

    def record(self, file: str | Path | None, result: str, digests: Digests | None = None) -> bool:
        """Write one record (``digests``: see :func:`agent.audit.digest_fields`); True if it
        is stored."""
        key = None if file is None else str(file)
        self._done.add(key)
        stored = self.log.write(
            AuditRecord(
                origin=None,
                method=self.method,
                result=result,
                channel="cli",
                file=file_name(file),
                kind=self.kind,
                profile=self.profile,
                **(digests or {}),
                **certificate_fields(self.certificate),
            )
        )
        self._unstored = () if stored else self.log.unstored
        if not stored and not self._warned:
            self._warned = True  # said once: a refusal's record is missing too
            sys.stderr.write(
                f"Cảnh báo: không ghi được nhật ký ký số {self.log.path}\n"
                f"Warning: could not write the signing audit log {self.log.path}\n"
            )
        return stored

    def result(self, entry: dict[str, Any]) -> bool:
        """Record one entry of a command's result list ({file, ok, error?, sha256?}); True if
        it is stored."""
        code = "OK" if entry.get("ok") else entry.get("error", {}).get("code", "INTERNAL_ERROR")
        sha256 = entry.get("sha256")
        return self.record(entry.get("file"), code, {"sha256": sha256} if sha256 else None)

    def refusal(self) -> KysoError:
        """AUDIT_UNAVAILABLE, naming the log (the home folder as "~", as the agent does)."""
        return KysoError("AUDIT_UNAVAILABLE", {"path": self.log.shown_path()})

    def require(self) -> None:
        """Before the token is opened (so before any PIN): AUDIT_UNAVAILABLE unless a record
        can be stored now. :meth:`AuditLog.unavailable` is a real write (open, rotation,
        fdatasync) until one worked in this process: a folder at the log's path, a read-only
        folder, a full disk or a blocked rotation all refuse here, not after the signature."""
        if self.log.unavailable():
            raise self.refusal()

    @property
    def failed(self) -> bool:
        """A record of this run could not be stored: the next signature would have none
        either, so a batch signs nothing more (the files get AUDIT_UNAVAILABLE)."""
        return self.log.healthy is False

    def unrecorded(self, output: str | Path | StagedFile) -> KysoError:
        """A signed copy was written to ``output`` but its record could not be stored: the copy
        is deleted (no signature without its record; the original was never touched) and the
        AUDIT_UNAVAILABLE to raise says so (``output``, ``output_removed``). A copy still at
        its temporary name, waiting to replace an earlier file (``--force``), is deleted there:
        the earlier file is not touched (:func:`agent.cli.inputs.placed_last` says it)."""
        copy = output if isinstance(output, StagedFile) else Path(output)
        where, target = copy_paths(copy)
        removed = remove_output(copy)
        if removed:
            self.log.withdraw(self._unstored)
        if not removed:  # named where it is: a temporary name, never the earlier file's
            sys.stderr.write(
                f"Cảnh báo: không xóa được bản đã ký không có bản ghi nhật ký {where}\n"
                f"Warning: could not delete the signed copy that has no audit record {where}\n"
            )
        details = {"output": str(target), "output_removed": removed}
        return KysoError("AUDIT_UNAVAILABLE", {"path": self.log.shown_path(), **details})

    @contextlib.contextmanager
    def covering(
        self, files: Sequence[str | Path | None], digests: Digests | None = None
    ) -> Iterator[None]:
        """Whatever stops the command, every file not yet recorded gets its record (the error's
        code, USER_CANCELLED on Ctrl-C); the exception goes on."""
        try:
            yield
        except KysoError as exc:
            self._record_rest(files, exc.code, digests)
            raise
        except (KeyboardInterrupt, asyncio.CancelledError):
            self._record_rest(files, "USER_CANCELLED", digests)
            raise
        except Exception:  # a bug or an unexpected OSError: the files still get their record
            self._record_rest(files, "INTERNAL_ERROR", digests)
            raise

    def _record_rest(
        self, files: Sequence[str | Path | None], code: str, digests: Digests | None
    ) -> None:
        for file in files:
            if (None if file is None else str(file)) not in self._done:
                self.record(file, code, digests)
