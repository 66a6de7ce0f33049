"""The user's "always allow" answers to pairing questions, kept in ``approvals.json``, and this
run's "once" answers (in memory).

The file is small and rewritten atomically on each change, so a crash never leaves half a list.
A damaged file is kept aside (never overwritten silently) and treated as empty: the worst case
is that the user is asked again.

Revoking is seen by a running agent wherever it is done. The tray calls :meth:`remove` on the
agent's own store, which drops the origin (for good and "once") and tells the subscribers (the
server closes the origin's open connections). ``kyso-agent sites revoke`` runs in another
process: it rewrites the file, which the agent's store reads again when its size or time
changes; the file also records the revocation under ``"revoked"`` (origin -> when), so a "once"
answer the running agent holds in memory is withdrawn too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

from agent.config import paths
from agent.config.settings import normalize_origin
from agent.files import atomic_write

log = logging.getLogger(__name__)

MAX_REVOKED = 64  # revocations kept in the file: enough for a running agent to see each one


class ApprovalStore:
    """Origins the user allowed for good, with when they were allowed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "approvals.json"
        self._stamp = self._stat()
        self._origins: dict[str, str]
        self._revoked: dict[str, str]  # origin -> when it was last revoked (ISO time, UTC)
        self._origins, self._revoked = self._load()
        # Allowed "once": until the agent stops; origin -> when it was allowed.
        self._session: dict[str, str] = {}
        self._listeners: list[Callable[[], None]] = []

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
            before = self._revoked
            self._origins, self._revoked = self._load()
            # A revocation written since the last read (the CLI) also ends a "once" answer.
            for origin, when in self._revoked.items():
                if before.get(origin) != when and origin in self._session:
                    log.warning("site %s revoked (approvals.json): its 'once' answer ends", origin)
                    del self._session[origin]

    def _load(self) -> tuple[dict[str, str], dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            origins = data["origins"]
            out = {}
            for origin, info in origins.items():
                out[normalize_origin(origin)] = str(info.get("approved_at", ""))
            return out, self._load_revoked(data.get("revoked"))
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.path.with_name(
                f"{self.path.name}.damaged-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
            )
            log.error("approvals file %s unreadable (%s); moved to %s", self.path, exc, aside)
            with contextlib.suppress(OSError):
                self.path.rename(aside)
            return {}, {}

    @staticmethod
    def _load_revoked(section: object) -> dict[str, str]:
        """The ``"revoked"`` section; anything malformed in it is ignored (it only ever takes
        a permission away, so ignoring a bad entry cannot grant one)."""
        out: dict[str, str] = {}
        if isinstance(section, dict):
            for origin, when in section.items():
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    out[normalize_origin(origin)] = str(when)
        return out

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after this store removed an origin (the server then closes
        that origin's open connections at once)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("an approvals listener failed")

    def __contains__(self, origin: object) -> bool:
        self._fresh()
        return origin in self._origins

    @property
    def origins(self) -> tuple[str, ...]:
        """Every origin approved for good."""
        self._fresh()
        return tuple(self._origins)

    @property
    def session_origins(self) -> frozenset[str]:
        """Origins allowed "once" in this run and not revoked since."""
        self._fresh()
        return frozenset(self._session)

    def allow_once(self, origin: str) -> None:
        """Allow ``origin`` until the agent stops (nothing is written)."""
        self._session[normalize_origin(origin)] = dt.datetime.now(dt.UTC).isoformat()

    def approved_at(self, origin: str) -> str:
        """When ``origin`` was allowed (ISO time, UTC), or "" when it is not."""
        self._fresh()
        return self._origins.get(origin, "")

    def pairing(self, origin: str) -> str:
        """Which of the user's answers lets ``origin`` in now: "always@<when>", "once@<when>",
        or "" when none does. A site revoked and allowed again has a new one."""
        self._fresh()
        if origin in self._origins:
            return f"always@{self._origins[origin]}"
        if origin in self._session:
            return f"once@{self._session[origin]}"
        return ""

    def add(self, origin: str) -> None:
        """Remember ``origin`` for good and save at once."""
        self._fresh()
        self._origins[normalize_origin(origin)] = dt.datetime.now(dt.UTC).isoformat()
        self._save()

    def remove(self, origin: str) -> bool:
        """Forget ``origin``, for good and "once", and record the revocation in the file (so a
        running agent in another process withdraws its "once" answer too); True when it was
        allowed here."""
        self._fresh()
        origin = normalize_origin(origin)
        found = self._origins.pop(origin, None) is not None
        if origin in self._session:
            del self._session[origin]
            found = True
        self._revoked.pop(origin, None)
        self._revoked[origin] = dt.datetime.now(dt.UTC).isoformat()
        while len(self._revoked) > MAX_REVOKED:  # oldest first: dicts keep insertion order
            del self._revoked[next(iter(self._revoked))]
        self._save()
        self._changed()
        return found

    def _save(self) -> None:
        body: dict[str, object] = {
            "version": 1,
            "origins": {o: {"approved_at": t} for o, t in sorted(self._origins.items())},
        }
        if self._revoked:
            body["revoked"] = dict(self._revoked)
        data = json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n"
        atomic_write(self.path, data, overwrite=True, mode=0o600)
        self._stamp = self._stat()
