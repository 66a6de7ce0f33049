"""Single-use, short-lived challenges for signed account requests.

A challenge is issued for one action and the hash of the exact form values (see
:mod:`portal_stub.forms`) together with the request document the portal writes for it
(:mod:`portal_stub.account_requests`, the nonce inside). The unit signs that document with
``sign.xml``; the portal verifies it with the agent library's :func:`verify_xml` and checks that
the content the signature covers is the request it issued. Freshness, single use and binding
are this module's job.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from agent.errors import KysoError
from agent.signing.challenge import action_nonce, nonce_binds
from agent.signing.trust import TrustStore
from agent.signing.xml import XmlVerification, parse_untrusted, verify_xml
from portal_stub.account_requests import (
    MAX_REQUEST_BYTES,
    content_key,
    parse_request,
    request_nonce,
)
from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.errors import PortalError, from_kyso
from portal_stub.quota import AddressQuota

# Anyone may ask for a registration challenge, so what that costs is bounded: per client
# address (an IPv6 /64) within one challenge lifetime, and in all (each row holds a ~5 KB
# request document).
ANONYMOUS_PER_ADDRESS = 60
MAX_PENDING_ANONYMOUS = 2000


@dataclass(frozen=True)
class Challenge:
    """An issued challenge as the client sees it, with the request document to sign."""

    nonce: str
    action: str
    fields_hash: str
    expires_at: str
    origin: str
    request: bytes  # the unsigned <YeuCauTaiKhoan> (sign it with sign.xml, profile bhxh)

    def to_json(self) -> dict[str, str | bool]:
        """API form (the request in base64, as the agent's sign.xml takes it)."""
        return {
            "nonce": self.nonce,
            "action": self.action,
            "fields_hash": self.fields_hash,
            "expires_at": self.expires_at,
            "origin": self.origin,
            "request": base64.b64encode(self.request).decode("ascii"),
            "request_sha256": hashlib.sha256(self.request).hexdigest(),
            "profile": "bhxh",
            # This portal verifies with libxmlsec, which checks ECDSA too (a .NET one cannot).
            "allow_ecdsa": True,
        }


@dataclass(frozen=True)
class SignedRequest:
    """A verified account request: who signed it, and the signed file as received."""

    verification: XmlVerification
    document: bytes

    @property
    def sha256(self) -> str:
        """SHA-256 of the signed file, as stored and shown in the account's history."""
        return hashlib.sha256(self.document).hexdigest()


class ChallengeService:
    """Issues challenges and checks the signed answers."""

    def __init__(self, db: Database, config: PortalConfig, trust: TrustStore) -> None:
        self.db = db
        self.config = config
        self.trust = trust
        self._anonymous = AddressQuota()

    def issue(
        self,
        action: str,
        fields_hash: str,
        build: Callable[[str, dt.datetime], bytes],
        *,
        account_id: int | None,
        session_hash: str | None,
        client: str | None = None,
    ) -> Challenge:
        """A fresh nonce bound to ``action``, ``fields_hash``, the account (if logged in) and
        the page's cookie session (if any), and the request document ``build(nonce, now)``
        writes around it. Without an account, E111 past :data:`ANONYMOUS_PER_ADDRESS` for
        ``client`` (its address) or :data:`MAX_PENDING_ANONYMOUS` waiting in all."""
        now = self.config.clock()
        expires = now + self.config.challenge_ttl
        # Expired ones are no use to anyone: kept one more lifetime (a late answer still hears
        # "expired" rather than "unknown"), then gone, so the table stays small.
        self.db.run(
            "DELETE FROM challenges WHERE expires_at < ?",
            ((now - self.config.challenge_ttl).isoformat(),),
        )
        if account_id is None:
            self._admit_anonymous(client or "", now)
        # The nonce itself commits to the action and the field values (agent library helper).
        nonce = action_nonce({"action": action, "fields_hash": fields_hash})
        request = build(nonce, now)
        self.db.run(
            "INSERT INTO challenges (nonce, action, fields_hash, account_id, session_hash, "
            "created_at, expires_at, request_xml) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                nonce,
                action,
                fields_hash,
                account_id,
                session_hash,
                now.isoformat(),
                expires.isoformat(),
                request,
            ),
        )
        return Challenge(
            nonce, action, fields_hash, expires.isoformat(), self.config.public_origin, request
        )

    def _admit_anonymous(self, client: str, now: dt.datetime) -> None:
        """E111 when ``client`` asked for too many challenges within one lifetime, or too many
        challenges without an account wait in all; else count this one."""
        pending = self.db.one(
            "SELECT COUNT(*) AS n FROM challenges "
            "WHERE account_id IS NULL AND used_at IS NULL AND expires_at >= ?",
            (now.isoformat(),),
        )
        full = pending is not None and pending["n"] >= MAX_PENDING_ANONYMOUS
        if full or not self._anonymous.admit(
            client, limit=ANONYMOUS_PER_ADDRESS, window=self.config.challenge_ttl, now=now
        ):
            minutes = max(1, -(-int(self.config.challenge_ttl.total_seconds()) // 60))
            raise PortalError("TOO_MANY_CHALLENGES", {"minutes": minutes})

    async def consume(
        self,
        document: bytes,
        *,
        action: str,
        fields_hash: str,
        account_id: int | None,
        session_hash: str | None = None,
    ) -> SignedRequest:
        """Burn the request's nonce, verify the signature, and check that what it covers is
        the request the portal issued for these form values. A challenge a page's cookie
        session asked for is answered from that session only (``session_hash``): a signed
        request that leaks from a page is of no use in another browser.

        The nonce is marked used before anything else is checked, so a failed attempt cannot be
        retried with the same nonce.
        """
        nonce = request_nonce(parse_request(document))
        if not nonce:
            raise PortalError("CHALLENGE_UNKNOWN")
        row = self.db.one("SELECT * FROM challenges WHERE nonce = ?", (nonce,))
        if (
            row is None
            or (row["account_id"] is not None and row["account_id"] != account_id)
            or (row["session_hash"] is not None and row["session_hash"] != session_hash)
        ):
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
            or not row["request_xml"]
        ):
            raise PortalError("CHALLENGE_MISMATCH")
        try:
            # The certificate must be valid now, when the portal acts on the request.
            verification = await asyncio.to_thread(
                verify_xml,
                document,
                self.trust,
                profile="bhxh",
                at=now,
                max_bytes=MAX_REQUEST_BYTES,
            )
        except KysoError as exc:
            if exc.code == "NOT_SIGNED":  # the request as issued: "this must be signed"
                raise PortalError("SIGNATURE_REQUIRED", cause=exc) from exc
            raise from_kyso(exc) from exc
        if "" not in verification.references:
            raise PortalError("SIGNATURE_INVALID", {"detail": "chữ ký không bao trùm cả yêu cầu"})
        # Read from what the signature covers, never from the file as sent.
        try:
            covered = parse_untrusted(
                verification.covered_c14n, max_bytes=MAX_REQUEST_BYTES, max_depth=16
            ).getroot()
        except KysoError as exc:
            raise from_kyso(exc) from exc
        issued = parse_request(bytes(row["request_xml"]))
        if etree.QName(covered).localname != etree.QName(issued).localname or content_key(
            covered
        ) != content_key(issued):
            raise PortalError("CHALLENGE_MISMATCH")
        return SignedRequest(verification, document)
