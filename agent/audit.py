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
another one has rotated away. Rotation by size keeps ``audit.jsonl.1`` (newest) to ``.N``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict

from agent.config import paths
from agent.errors import ErrorGroup, group_of

if TYPE_CHECKING:  # types only: the audit log itself depends on nothing but the state root
    from agent.remote.directory import RemoteCredential
    from agent.tokens.model import TokenCertificate

log = logging.getLogger(__name__)

FILE_NAME = "audit.jsonl"
MAX_BYTES = 5 * 1024 * 1024
KEEP_FILES = 5

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


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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

    def write(self, record: AuditRecord) -> bool:
        """Append one line (rotating first when it would pass the size limit); True if stored."""
        line = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode()
        try:
            with self._lock, _file_lock(self.path, create=True):
                self._append(line)
            return True
        except OSError:
            log.exception("could not write the audit log %s", self.path)
            return False

    def _append(self, line: bytes) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(line) > self.max_bytes:
            self._rotate()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _BINARY, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)  # O_APPEND still writes at the end
                if os.read(fd, 1) != b"\n":
                    line = b"\n" + line  # a line torn by a crash must not swallow this record
            written = os.write(fd, line)
            if written < len(line):  # only on a full disk or a signal; finish the line
                os.write(fd, line[written:])
            _sync(fd)
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        """audit.jsonl → .1 → .2 …; the oldest past ``keep`` is dropped."""
        names = rotated_paths(self.path, self.keep)
        with contextlib.suppress(FileNotFoundError):
            names[-1].unlink()
        for older, newer in zip(reversed(names[1:]), reversed(names[:-1]), strict=True):
            with contextlib.suppress(FileNotFoundError):
                os.replace(newer, older)
        _fsync_dir(self.path.parent)

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
                except ValueError:
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
        """Nothing stays open between records; kept for the agent's shutdown sequence."""
