"""The audit log: one JSON line per signing decision, in ``log_dir()/audit.jsonl``.

It records who asked (origin), what for (method), with which certificate (thumbprint), over
which bytes (SHA-256) and how it ended (a stable code). Never the PIN, never the document.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from agent.config import paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit log."""

    origin: str
    method: str
    result: str  # "OK" or a stable error code
    thumbprint: str | None = None
    sha256: str | None = None
    request_id: str | None = None
    item: int | None = None  # index within a sign.batch

    def to_json(self) -> dict[str, object]:
        """The line's fields, with the time, skipping what is unknown."""
        data: dict[str, object] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        }
        for key in ("origin", "method", "thumbprint", "sha256", "result", "request_id", "item"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


class AuditLog:
    """Appends records; a failure to write is logged, never raised into a signing operation."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.log_dir() / "audit.jsonl"
        self._lock = threading.Lock()
        self._fd: int | None = None

    def write(self, record: AuditRecord) -> None:
        """Append one line (O_APPEND: concurrent agents never interleave inside a line)."""
        line = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode()
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._fd is None:
                        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    os.write(self._fd, line)
                    return
                except OSError:
                    self._close()  # e.g. the log directory was cleaned up: reopen once
                    if attempt == 2:
                        log.exception("could not write the audit log %s", self.path)

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Close the file (the agent is stopping)."""
        with self._lock:
            self._close()
