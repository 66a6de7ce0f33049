"""The user's "always allow" answers to pairing questions, kept in ``approvals.json``.

The file is small and rewritten atomically on each change, so a crash never leaves half a list.
A damaged file is kept aside (never overwritten silently) and treated as empty: the worst case
is that the user is asked again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from pathlib import Path

from agent.config import paths
from agent.config.settings import normalize_origin
from agent.files import atomic_write

log = logging.getLogger(__name__)


class ApprovalStore:
    """Origins the user allowed for good, with when they were allowed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "approvals.json"
        self._stamp = self._stat()
        self._origins: dict[str, str] = self._load()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _fresh(self) -> None:
        # Another process (``kyso-agent sites revoke``, the tray) may have changed the file:
        # read it again, so a revoked site is refused at its next connection, not next start.
        stamp = self._stat()
        if stamp != self._stamp:
            self._stamp = stamp
            self._origins = self._load()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            origins = data["origins"]
            out = {}
            for origin, info in origins.items():
                out[normalize_origin(origin)] = str(info.get("approved_at", ""))
            return out
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.path.with_name(
                f"{self.path.name}.damaged-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
            )
            log.error("approvals file %s unreadable (%s); moved to %s", self.path, exc, aside)
            with contextlib.suppress(OSError):
                self.path.rename(aside)
            return {}

    def __contains__(self, origin: object) -> bool:
        self._fresh()
        return origin in self._origins

    @property
    def origins(self) -> tuple[str, ...]:
        """Every approved origin."""
        self._fresh()
        return tuple(self._origins)

    def approved_at(self, origin: str) -> str:
        """When ``origin`` was allowed (ISO time, UTC), or "" when it is not."""
        self._fresh()
        return self._origins.get(origin, "")

    def add(self, origin: str) -> None:
        """Remember ``origin`` for good and save at once."""
        self._fresh()
        self._origins[normalize_origin(origin)] = dt.datetime.now(dt.UTC).isoformat()
        self._save()

    def remove(self, origin: str) -> bool:
        """Forget ``origin``; True when it was there."""
        self._fresh()
        found = self._origins.pop(normalize_origin(origin), None) is not None
        if found:
            self._save()
        return found

    def _save(self) -> None:
        body = {
            "version": 1,
            "origins": {o: {"approved_at": t} for o, t in sorted(self._origins.items())},
        }
        data = json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n"
        atomic_write(self.path, data, overwrite=True, mode=0o600)
        self._stamp = self._stat()
