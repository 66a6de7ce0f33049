"""The audit log: one JSON line per signature Kyso makes or refuses, from the agent or the CLI.

Both channels write the same typed :class:`AuditRecord` through :class:`AuditLog`, so a record
looks the same whoever asked. A record says who asked (the page's origin, or the file's name on
the command line), what for (method, document kind), over which bytes (SHA-256), with which
certificate (thumbprint, subject CN, serial, token label) and how it ended. Never the PIN, never
the document: the record type has no field that could hold either.

The file is ``log_dir()/audit.jsonl`` (JSON Lines). Every record is one ``write`` on an
``O_APPEND`` descriptor, then fsync (a signature record is evidence). The agent and a CLI may
write at the same time, so appending and rotating happen under a lock file (``fcntl`` on POSIX,
``msvcrt`` on Windows); the log is opened per record, so no process keeps writing into a file
another one has rotated away. Rotation by size keeps ``audit.jsonl.1`` (newest) to ``.N``; the
records of signatures in a file rotated out are carried into ``.N`` (up to the size limit).
Records a failed write could not store wait in memory and go first in the next write; while
they wait, :meth:`AuditLog.unavailable` is True (the agent signs nothing more).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from agent.audit_writer import CHECK, Writer
from agent.config import paths
from agent.errors import ErrorGroup, group_of
from agent.files import atomic_write, fsync_dir
from agent.shown import escape_obeyed

if TYPE_CHECKING:  # types only: the audit log itself depends on nothing but the state root
    from agent.remote.directory import RemoteCredential
    from agent.tokens.model import TokenCertificate

log = logging.getLogger(__name__)

FILE_NAME = "audit.jsonl"
MAX_BYTES = 5 * 1024 * 1024
KEEP_FILES = 5
# Below this much free space a record may not fit (with the lock file and a rotation's rename).
MIN_FREE_BYTES = 64 * 1024
# A retry rotates early when this much more would pass the size limit (records are < 1 KiB).
RETRY_RESERVE = 64 * 1024
# Records kept in memory while the log cannot be written (a page may keep asking meanwhile).
MAX_PENDING = 1024

_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation

Channel = Literal["agent", "cli"]
Outcome = Literal["signed", "refused", "cancelled"]

# The order of the keys in a line: the time first, the outcome last, for people reading it raw.
_FIELDS = (
    "channel",
    "origin",
    "file",
    "method",
    "kind",
    "profile",
    "sha256",
    "digest",
    "digest_alg",
    "thumbprint",
    "subject_cn",
    "cert_serial",
    "token",
    "request_id",
    "item",
    "outcome",
    "result",
)


def outcome_of(result: str) -> Outcome:
    """``signed`` for OK, ``cancelled`` for a user who said no or did not answer, else refused."""
    if result == "OK":
        return "signed"
    # Nobody said yes (or the agent stopped) is not the same as something refusing to sign.
    return "cancelled" if group_of(result) is ErrorGroup.CANCELLED else "refused"


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit log. ``result`` is "OK" or the stable error code."""

    origin: str | None  # the page's origin (agent); None on the command line
    method: str  # protocol method (sign.xml) or CLI command (sign-xml)
    result: str
    channel: Channel = "agent"
    file: str | None = None  # CLI: the input file's NAME, never its path (a path is personal)
    kind: str | None = None  # xml, cms, hash, challenge, batch
    profile: str | None = None  # XML profile (bhxh, tax, generic)
    sha256: str | None = None  # of the document signed, or the SHA-256 digest given
    digest: str | None = None  # a caller-given digest of another algorithm (hex)
    digest_alg: str | None = None
    thumbprint: str | None = None
    subject_cn: str | None = None
    cert_serial: str | None = None  # hex
    token: str | None = None  # token label
    request_id: str | None = None
    item: int | None = None  # index within a sign.batch

    @property
    def outcome(self) -> Outcome:
        """signed / refused / cancelled, from ``result``."""
        return outcome_of(self.result)

    def to_json(self, now: dt.datetime | None = None) -> dict[str, object]:
        """The line's fields, time first (UTC, ISO 8601), skipping what is unknown."""
        when = now or dt.datetime.now(dt.UTC)
        data: dict[str, object] = {"time": when.isoformat(timespec="milliseconds")}
        # Plain getattr, not dataclasses.asdict: every field is a scalar, and asdict's deep copy
        # was most of the cost of a record (bench/agent_roundtrip.py writes one per signature).
        for key in _FIELDS:
            value = self.outcome if key == "outcome" else getattr(self, key)
            if value is not None:
                data[key] = value
        return data


class CertificateFields(TypedDict):
    """The certificate part of a record."""

    thumbprint: str | None
    subject_cn: str | None
    cert_serial: str | None
    token: str | None


class Digests(TypedDict, total=False):
    """What identifies the signed bytes: their SHA-256, or a digest of another algorithm."""

    sha256: str
    digest: str
    digest_alg: str


def digest_fields(data: bytes | None, digest: bytes | None, hash_name: str) -> Digests:
    """The SHA-256 of ``data`` when it is at hand, else the digest the caller gave."""
    if data is not None:
        return {"sha256": hashlib.sha256(data).hexdigest()}
    if digest is None:
        return {}
    if hash_name == "sha256":
        return {"sha256": digest.hex()}
    return {"digest": digest.hex(), "digest_alg": hash_name}


def certificate_fields(cert: TokenCertificate | RemoteCredential | None) -> CertificateFields:
    """thumbprint, subject_cn, cert_serial and token of a token certificate (all None without);
    for a remote credential, ``token`` is its source ``remote:<provider>``."""
    if cert is None:
        return {"thumbprint": None, "subject_cn": None, "cert_serial": None, "token": None}
    # Duck-typed: importing agent.remote here would load it in every agent (footprint).
    token = getattr(cert, "token", None)
    return {
        "thumbprint": cert.thumbprint,
        "subject_cn": cert.info.subject_cn,
        "cert_serial": cert.info.serial,
        "token": token.label if token is not None else getattr(cert, "source", None),
    }


def file_name(path: str | os.PathLike[str] | None) -> str | None:
    """The last part of a path: the audit log never holds folders (they name people)."""
    if path is None:
        return None
    # Both separators: a Windows path is recorded by its name on any platform.
    return os.fspath(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None


def default_path() -> Path:
    """``log_dir()/audit.jsonl`` under the one state root."""
    return paths.log_dir() / FILE_NAME


def rotated_paths(path: Path, keep: int = KEEP_FILES) -> list[Path]:
    """The live file then its rotated copies, newest first."""
    return [path] + [path.with_name(f"{path.name}.{i}") for i in range(1, keep + 1)]


@contextlib.contextmanager
def _file_lock(path: Path, *, create: bool = False) -> Iterator[None]:
    """An exclusive lock between processes, held on ``<log>.lock`` (never on the log itself,
    which is renamed by rotation); ``create`` makes the log's folder when it is missing."""
    name = path.with_name(path.name + ".lock")
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        if not create:
            raise
        # The first record, or the folder was deleted since: made here, not stat'ed before
        # every record.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            while True:  # LK_LOCK gives up after ~10 s of contention; a record must not
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError as exc:
                    if exc.errno != errno.EDEADLK:  # a real error, not a busy lock
                        raise
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _line(record: AuditRecord) -> bytes:
    """One JSON line. Text that is no valid Unicode (a file name's undecodable bytes, kept by
    Python as lone surrogates) is written as the JSON escape "\\udcf4": never an exception
    after a signature was made."""
    # Vietnamese kept readable; bidi and format characters escaped, or a `tail` of the log
    # would show a field reordered or padded (json.dumps escapes only the C0 controls).
    text = escape_obeyed(json.dumps(record.to_json(), ensure_ascii=False)) + "\n"
    return text.encode("utf-8", "backslashreplace")


def _is_signed(line: bytes) -> bool:
    """Is this line the record of a signature made (outcome "signed")? Read from the JSON,
    not by a substring, so no field's text can pass for it; an unreadable line counts as
    signed (kept: it cannot be shown to be noise)."""
    try:
        value = json.loads(line)
    except ValueError:
        return True
    return not isinstance(value, dict) or value.get("outcome") == "signed"


def _signed_tail(path: Path, limit: int) -> bytes:
    """The lines of ``path`` that record a signature (:func:`_is_signed`), in order, at most
    ``limit`` bytes of the newest (the rest is logged as dropped); b"" when there is no file.
    Any other error (a folder in the file's place) is raised: the rotation is blocked."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return b""
    signed = [line + b"\n" for line in data.splitlines() if line.strip() and _is_signed(line)]
    kept: list[bytes] = []
    size = 0
    for line in reversed(signed):
        if size + len(line) > limit:
            log.error("audit log: %d signed records rotated out", len(signed) - len(kept))
            break
        kept.append(line)
        size += len(line)
    return b"".join(reversed(kept))


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (a short write happens on a nearly full disk or a signal); a
    write that makes no progress raises ENOSPC."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _sync(fd: int) -> None:
    # fdatasync where there is one: the appended bytes and the new size reach the disk,
    # without also waiting for the modification time.
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


class AuditLog:
    """Appends records; a failure to write is logged, never raised into a signing operation
    (the signature already exists; :meth:`write` returns False so a caller can warn)."""

    def __init__(
        self, path: Path | None = None, *, max_bytes: int = MAX_BYTES, keep: int = KEEP_FILES
    ) -> None:
        self.path = path or default_path()
        self.max_bytes = max_bytes
        self.keep = max(1, keep)
        self._lock = threading.Lock()  # flock is per open file: threads need their own lock
        self._writer: Writer | None = None  # started at the first write_async
        self._writer_lock = threading.Lock()
        # Did the last write reach the file? None until the first one (see :meth:`unavailable`).
        self.healthy: bool | None = None
        # Lines a failed write could not store, oldest first: written before the next ones, so
        # a record is late rather than lost, and their write is the retry (see unavailable).
        self._pending: list[bytes] = []
        self.unstored: tuple[bytes, ...] = ()  # the lines the last write left pending

    def unavailable(self) -> bool:
        """True when a record would not be stored now. Once a write succeeded this is one
        attribute read. Otherwise (before the first write, or after a failed one) it is a real
        write: the records still waiting from the failure (none before the first), through
        the same open, rotation, write and fdatasync as any record. Opening the file is not
        enough: a blocked rotation, a quota or an I/O error show only when writing. So the
        agent refuses while writes fail, and signs again by itself once one succeeds."""
        if self.healthy:
            return False
        if not self._retry():
            return True
        with contextlib.suppress(OSError):
            return shutil.disk_usage(self.path.parent).free < MIN_FREE_BYTES
        return True

    def _retry(self) -> bool:
        """Write the pending lines (or none, which still opens, rotates and syncs the log);
        True if that worked. Under the same locks as a record, so the order stays."""
        return self._store([], reserve=RETRY_RESERVE)

    def shown_path(self) -> str:
        """The log's path for an error a page may show: the home folder as "~" (its name is
        often the user's, which no site needs to learn)."""
        home = Path.home()
        if self.path.is_relative_to(home):
            return str(Path("~") / self.path.relative_to(home))
        return str(self.path)

    def write(self, record: AuditRecord) -> bool:
        """Append one line (rotating first when it would pass the size limit); True if stored."""
        return self.write_many([record])

    def write_many(self, records: list[AuditRecord]) -> bool:
        """Append these lines in order with one fsync; True if all are stored. A record that
        cannot be written is logged and skipped: never the others of its group."""
        lines = []
        for record in records:
            try:
                lines.append(_line(record))
            except (TypeError, ValueError):  # a field JSON cannot hold: this record only
                log.exception("audit record skipped: %r", record)
        stored = self._store(lines)
        # What this call left pending: a caller that then deletes the signed copy takes its
        # line back (withdraw), or a later record would write "signed" for a file not there.
        self.unstored = () if stored else tuple(lines)
        return stored and len(lines) == len(records)

    def withdraw(self, lines: tuple[bytes, ...]) -> None:
        """Drop these pending lines (a signature whose copy was deleted, unrecorded): once the
        log works again they must not be written."""
        if lines:
            with self._lock:
                self._pending = [line for line in self._pending if line not in lines]

    def _store(self, lines: list[bytes], *, reserve: int = 0) -> bool:
        """Append the pending lines then ``lines``; on failure keep them all pending."""
        with self._lock:
            waiting = self._pending + lines
            try:
                with _file_lock(self.path, create=True):
                    self._append(b"".join(waiting), reserve=reserve)
            except OSError:
                self._keep_pending(waiting)
                self.healthy = False
                log.exception("could not write the audit log %s", self.path)
                return False
            self._pending = []
            # An empty first check says nothing about a record yet: healthy stays None then.
            if waiting or self.healthy is False:
                self.healthy = True
            return True

    def _keep_pending(self, lines: list[bytes]) -> None:
        """Keep at most MAX_PENDING lines, in order. Past that, refusals go first (newest
        first): a page sending refused requests must never push out the record of a signature
        that exists. Only then the newest signed lines, should they alone be too many."""
        excess = len(lines) - MAX_PENDING
        if excess <= 0:
            self._pending = lines
            return
        drop: set[int] = set()
        for index in range(len(lines) - 1, -1, -1):
            if len(drop) == excess:
                break
            if not _is_signed(lines[index]):
                drop.add(index)
        kept = [line for index, line in enumerate(lines) if index not in drop]
        log.error(
            "audit log: %d refused/cancelled and %d signed records could not be kept",
            len(drop),
            max(0, len(kept) - MAX_PENDING),
        )
        self._pending = kept[:MAX_PENDING]

    async def write_async(self, record: AuditRecord) -> bool:
        """:meth:`write` on the log's own thread, awaited: the event loop goes on meanwhile,
        and the record is on disk (fsynced) when this returns. Records that wait together are
        written with one fsync. Cheaper than a thread pool hop (this is on every signature)."""
        return await self._on_writer(record)

    async def unavailable_async(self) -> bool:
        """:meth:`unavailable` for the event loop: one attribute read when the log is known
        healthy, else the check (a real write with fdatasync) on the log's own thread, in
        order with the records, so a slow or failing disk never stalls the loop."""
        if self.healthy:
            return False
        return await self._on_writer(CHECK)

    async def _on_writer(self, item: Any) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._writer_lock:
            if self._writer is None:
                self._writer = Writer(self)
            self._writer.queue.put((item, loop, future))
        return await future

    def _append(self, line: bytes, *, reserve: int = 0) -> None:
        """Rotate when ``line`` and ``reserve`` more bytes would pass the limit, then append
        and sync. A retry reserves room for the next records: the rotation they would need
        is tried (and must work) before a signature, not after it."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(line) + reserve > self.max_bytes:
            self._rotate()
        flags = os.O_RDWR | os.O_APPEND | _BINARY
        try:
            fd, created = os.open(self.path, flags), False
        except FileNotFoundError:  # the first record, or the first after a rotation
            fd, created = os.open(self.path, flags | os.O_CREAT, 0o600), True
        try:
            size = os.fstat(fd).st_size
            # An empty log may be one made an instant ago (by a writer that crashed, or another
            # process before its first record): its name is synced with this record too.
            created = created or size == 0
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)  # O_APPEND still writes at the end
                if os.read(fd, 1) != b"\n":
                    line = b"\n" + line  # a line torn by a crash must not swallow this record
            try:
                _write_all(fd, line)
            except OSError:
                # Full disk (ENOSPC, EFBIG): take back the part written, so no torn record
                # stays in the log for every later reading to stumble on.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
            _sync(fd)
        finally:
            os.close(fd)
        if created:
            # The new file's name is durable only once its folder is synced: without this a
            # power cut could lose the whole new log, fsynced records and all.
            fsync_dir(self.path.parent)

    def _rotate(self) -> None:
        """audit.jsonl → .1 → .2 …; past ``keep`` the oldest file goes, but not the records of
        signatures in it: they are carried to the head of the next oldest (the newest
        ``max_bytes`` of them), so refusals a page can make by the thousand never push a
        signature's record out of the log. A crash midway may leave a record twice, never
        none: the merged copy is in place (fsynced) before its source is removed."""
        names = rotated_paths(self.path, self.keep)
        oldest, next_oldest = names[-1], names[-2]
        pairs = list(zip(reversed(names[1:]), reversed(names[:-1]), strict=True))
        carried = _signed_tail(oldest, self.max_bytes)
        if carried:
            with contextlib.suppress(FileNotFoundError):
                carried += next_oldest.read_bytes()
            atomic_write(oldest, carried, overwrite=True, mode=0o600)  # fsynced, renamed
            with contextlib.suppress(FileNotFoundError):
                next_oldest.unlink()
            pairs = pairs[1:]  # next_oldest → oldest is done
        else:
            with contextlib.suppress(FileNotFoundError):
                oldest.unlink()
        for older, newer in pairs:
            with contextlib.suppress(FileNotFoundError):
                os.replace(newer, older)
        fsync_dir(self.path.parent)

    def read(self, *, lock: bool = True) -> tuple[list[dict[str, object]], int]:
        """Every record, newest first across the rotated files, and how many lines were not
        readable (a torn line after a crash is skipped, never fatal). ``lock=False`` for a
        copy nobody writes to (no lock file is created beside it)."""
        if not self.path.parent.exists():
            return [], 0
        chunks: list[bytes] | None = None
        with self._lock:
            if lock:
                # A log someone else owns and this user may only read is read without it.
                with contextlib.suppress(PermissionError), _file_lock(self.path):
                    chunks = self._read_files()  # no rotation halfway through the reading
            if chunks is None:
                chunks = self._read_files()
        records: list[dict[str, object]] = []
        bad = 0
        for chunk in chunks:
            for raw in reversed(chunk.splitlines()):
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except (ValueError, RecursionError):  # [[[[... nested past reason too
                    bad += 1
                    continue
                if isinstance(value, dict):
                    records.append(value)
                else:
                    bad += 1
        return records, bad

    def _read_files(self) -> list[bytes]:
        chunks = []
        for name in rotated_paths(self.path, self.keep):
            try:
                chunks.append(name.read_bytes())
            except FileNotFoundError:
                continue
        return chunks

    def close(self) -> None:
        """Let the writer thread finish the records queued and stop (nothing else stays open
        between records). A later :meth:`write_async` starts it again."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
