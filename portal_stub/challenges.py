"""Origin-bound, single-use, short-lived challenges for signed account actions.

A challenge is issued for one action and the hash of the exact form values (see
:mod:`portal_stub.forms`); the user's token signs it through the agent (Web eID token format)
and the portal validates the token with the agent library's :func:`validate_auth_token` against
its own public origin. Freshness, single use and binding are this module's job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from agent.errors import KysoError
from agent.signing.challenge import action_nonce, nonce_binds, validate_auth_token
from agent.signing.challenge import parse_token as parse_token_text
from agent.signing.trust import TrustStore
from agent.tokens.certinfo import CertificateInfo
from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.errors import PortalError, from_kyso


@dataclass(frozen=True)
class Challenge:
    """An issued challenge as the client sees it."""

    nonce: str
    action: str
    fields_hash: str
    expires_at: str
    origin: str

    def to_json(self) -> dict[str, str]:
        """API form."""
        return {
            "nonce": self.nonce,
            "action": self.action,
            "fields_hash": self.fields_hash,
            "expires_at": self.expires_at,
            "origin": self.origin,
        }


def parse_token(raw: Any) -> dict[str, Any]:
    """The auth token from a form (JSON text) or the API (object). Missing -> E201."""
    if isinstance(raw, dict):
        return raw
    if not raw or not str(raw).strip():
        raise PortalError("SIGNATURE_REQUIRED")
    try:
        return parse_token_text(str(raw))
    except KysoError as exc:
        raise from_kyso(exc) from exc


class ChallengeService:
    """Issues challenges and checks the signed answers."""

    def __init__(self, db: Database, config: PortalConfig, trust: TrustStore) -> None:
        self.db = db
        self.config = config
        self.trust = trust

    def issue(
        self, action: str, fields_hash: str, *, account_id: int | None, session_hash: str | None
    ) -> Challenge:
        """A fresh nonce bound to ``action``, ``fields_hash`` and the account (if logged in)."""
        now = self.config.clock()
        expires = now + self.config.challenge_ttl
        # The nonce itself commits to the action and the field values (agent library helper),
        # so the user's signature covers what is being changed, not only a random number.
        nonce = action_nonce({"action": action, "fields_hash": fields_hash})
        self.db.run(
            "INSERT INTO challenges (nonce, action, fields_hash, account_id, session_hash, "
            "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                nonce,
                action,
                fields_hash,
                account_id,
                session_hash,
                now.isoformat(),
                expires.isoformat(),
            ),
        )
        # Old challenges are no use to anyone; keep the table small.
        self.db.run(
            "DELETE FROM challenges WHERE expires_at < ?",
            ((now - dt.timedelta(days=1)).isoformat(),),
        )
        return Challenge(nonce, action, fields_hash, expires.isoformat(), self.config.public_origin)

    def pending_nonce(self, session_hash: str | None, action: str) -> str | None:
        """The latest nonce a page session asked for ``action`` (forms may omit the nonce)."""
        if not session_hash:
            return None
        row = self.db.one(
            "SELECT nonce FROM challenges WHERE session_hash = ? AND action = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (session_hash, action),
        )
        return row["nonce"] if row else None

    async def consume(
        self,
        token: dict[str, Any],
        *,
        nonce: str | None,
        action: str,
        fields_hash: str,
        account_id: int | None,
    ) -> CertificateInfo:
        """Burn the nonce and validate the signed token; return the signer's certificate.

        The nonce is marked used before anything else is checked, so a failed attempt cannot be
        retried with the same nonce (as Web eID's validators do).
        """
        if not nonce:
            raise PortalError("CHALLENGE_UNKNOWN")
        row = self.db.one("SELECT * FROM challenges WHERE nonce = ?", (nonce,))
        if row is None or (row["account_id"] is not None and row["account_id"] != account_id):
            raise PortalError("CHALLENGE_UNKNOWN")
        now = self.config.clock()
        burned = self.db.run(
            "UPDATE challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL",
            (now.isoformat(), nonce),
        )
        if burned.rowcount != 1:
            raise PortalError("CHALLENGE_USED")
        if now > dt.datetime.fromisoformat(row["expires_at"]):
            raise PortalError("CHALLENGE_EXPIRED")
        if (
            row["action"] != action
            or row["fields_hash"] != fields_hash
            or not nonce_binds(nonce, {"action": action, "fields_hash": fields_hash})
        ):
            raise PortalError("CHALLENGE_MISMATCH")
        try:
            return await asyncio.to_thread(
                validate_auth_token,
                token,
                expected_origin=self.config.public_origin,
                nonce=nonce,
                trust=self.trust,
                at=now,
            )
        except KysoError as exc:
            raise from_kyso(
                exc,
                origin=str(exc.details.get("origin", "?")),
                expected=self.config.public_origin,
            ) from exc
