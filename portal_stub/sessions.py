"""Log-in sessions: a random token in a cookie (pages) or a bearer header (API clients).

Only SHA-256 of the token is stored. Each session has its own CSRF token; cookie sessions
exist before log-in too, so that the registration and log-in forms carry one.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Literal

from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.quota import AddressQuota
from portal_stub.security import new_token, token_hash

Kind = Literal["cookie", "bearer"]

# Every cookieless page visit gets a session (its forms need a CSRF token). One client address
# (an IPv6 /64) gets at most ANONYMOUS_PER_ADDRESS of them an hour: past that its pages come
# without one (and their forms are refused), so nobody can push other visitors' sessions out.
# In all, past MAX_ANONYMOUS_SESSIONS the least recently used go (checked every TRIM_EVERY).
ANONYMOUS_PER_ADDRESS = 300
ANONYMOUS_WINDOW = dt.timedelta(hours=1)
MAX_ANONYMOUS_SESSIONS = 100_000
TRIM_EVERY = 64


@dataclass(frozen=True)
class Session:
    """A live session."""

    token_hash: str
    kind: Kind
    account_id: int | None
    csrf_token: str


class SessionStore:
    """Sessions in the database."""

    def __init__(self, db: Database, config: PortalConfig) -> None:
        self.db = db
        self.config = config
        self._anonymous_made = 0
        self._per_address = AddressQuota()

    def create(self, kind: Kind, account_id: int | None) -> tuple[str, Session]:
        """A new session; returns (secret token for the client, session)."""
        token = new_token()
        moment = self.config.clock()
        now = moment.isoformat()
        # Visitors without a cookie get a session each: forget the stale ones as we go.
        self.db.run(
            "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
            (
                (moment - self.config.session_ttl).isoformat(),
                (moment - self.config.session_max_age).isoformat(),
            ),
        )
        session = Session(token_hash(token), kind, account_id, new_token())
        self.db.run(
            "INSERT INTO sessions (token_hash, kind, account_id, csrf_token, created_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (session.token_hash, kind, account_id, session.csrf_token, now, now),
        )
        if account_id is None:
            self._anonymous_made += 1
            if self._anonymous_made % TRIM_EVERY == 0:
                self._trim_anonymous()
        return token, session

    def admit_anonymous(self, address: str | None) -> bool:
        """May ``address`` get one more session without a log-in now (counted if so)?"""
        return self._per_address.admit(
            address, limit=ANONYMOUS_PER_ADDRESS, window=ANONYMOUS_WINDOW, now=self.config.clock()
        )

    def _trim_anonymous(self) -> None:
        """Keep the :data:`MAX_ANONYMOUS_SESSIONS` most recently used sessions without a log-in:
        a client that never keeps its cookie cannot fill the disk with them."""
        self.db.run(
            "DELETE FROM sessions WHERE account_id IS NULL AND token_hash IN ("
            "SELECT token_hash FROM sessions WHERE account_id IS NULL "
            "ORDER BY last_seen DESC LIMIT -1 OFFSET ?)",
            (MAX_ANONYMOUS_SESSIONS,),
        )

    def get(self, token: str | None, kind: Kind) -> Session | None:
        """The live session for ``token`` (expired ones are removed)."""
        if not token or len(token) > 200:
            return None
        row: sqlite3.Row | None = self.db.one(
            "SELECT * FROM sessions WHERE token_hash = ? AND kind = ?", (token_hash(token), kind)
        )
        if row is None:
            return None
        now = self.config.clock()
        idle = dt.datetime.fromisoformat(row["last_seen"]) + self.config.session_ttl < now
        # A session in use still ends: a stolen token or a shared PC's cookie kept alive by a
        # request every few hours would otherwise never expire.
        old = dt.datetime.fromisoformat(row["created_at"]) + self.config.session_max_age < now
        if idle or old:
            self.db.run("DELETE FROM sessions WHERE token_hash = ?", (row["token_hash"],))
            return None
        self.db.run(
            "UPDATE sessions SET last_seen = ? WHERE token_hash = ?",
            (now.isoformat(), row["token_hash"]),
        )
        return Session(row["token_hash"], row["kind"], row["account_id"], row["csrf_token"])

    def end_others(self, account_id: int, keep: Session | None) -> None:
        """End every session of ``account_id`` but ``keep`` (the one that made a change): a
        password someone else still knew stops working with its open sessions."""
        self.db.run(
            "DELETE FROM sessions WHERE account_id = ? AND token_hash != ?",
            (account_id, keep.token_hash if keep is not None else ""),
        )

    def delete(self, session: Session) -> None:
        """End a session (log-out, or rotation at log-in)."""
        self.db.run("DELETE FROM sessions WHERE token_hash = ?", (session.token_hash,))
