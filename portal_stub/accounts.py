"""Unit accounts: registration, log-in, and the signed account changes. Database logic only.

Every change method receives the (already verified) signed request and enforces who may sign
it: the registered certificate, or for a certificate change a new one carrying the same MST.
The signed request is kept with the account's history, with the sentence the unit was shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from agent.errors import KysoError
from agent.signing.xml import summarize_xml
from agent.tokens.certinfo import CertificateInfo
from portal_stub.challenges import SignedRequest
from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.errors import PortalError
from portal_stub.forms import CANCEL_REASONS
from portal_stub.security import check_password, generate_password, hash_password

# Registration columns <- form field names.
_DETAIL_COLUMNS = {
    "ten_don_vi": "unit_name",
    "co_quan_bhxh": "office_code",
    "dia_chi": "address",
    "nguoi_lien_he": "contact_name",
    "dien_thoai": "phone",
    "email": "email",
}

_DUMMY_HASH = hash_password("kyso-portal-dummy-password")


@dataclass(frozen=True)
class Registration:
    """Outcome of "Đăng ký": the account and, for a brand-new account, its password."""

    account: sqlite3.Row
    password: str | None
    reactivated: bool


def username_for(mst: str) -> str:
    """User names are the unit's tax code (branches keep their -NNN suffix)."""
    return mst


# Wrong passwords for one user name before its log-in pauses, and for how long they count.
LOGIN_FAILURES = 10
LOGIN_WINDOW = dt.timedelta(minutes=15)
PASSWORD_CHECKS_AT_ONCE = 2
_THROTTLED_NAMES = 10_000  # user names tracked at most (oldest dropped): bounded memory


class LoginThrottle:
    """Wrong passwords by user name, in memory (a restart forgets them): past
    :data:`LOGIN_FAILURES` within :data:`LOGIN_WINDOW` the name is refused with E109, before
    any password work, until the oldest failure leaves the window."""

    def __init__(self, config: PortalConfig) -> None:
        self.config = config
        self._failures: dict[str, list[dt.datetime]] = {}

    def _recent(self, name: str) -> list[dt.datetime]:
        since = self.config.clock() - LOGIN_WINDOW
        kept = [t for t in self._failures.get(name, ()) if t > since]
        if kept:
            self._failures[name] = kept
        else:
            self._failures.pop(name, None)
        return kept

    def check(self, name: str) -> None:
        """E109 when ``name`` is paused."""
        recent = self._recent(name)
        if len(recent) >= LOGIN_FAILURES:
            left = recent[0] + LOGIN_WINDOW - self.config.clock()
            minutes = max(1, -(-int(left.total_seconds()) // 60))
            raise PortalError("LOGIN_THROTTLED", {"minutes": minutes})

    def failed(self, name: str) -> None:
        """Count one wrong password for ``name``."""
        recent = self._recent(name)
        recent.append(self.config.clock())
        self._failures[name] = recent
        while len(self._failures) > _THROTTLED_NAMES:
            del self._failures[next(iter(self._failures))]

    def forget(self, name: str) -> None:
        """A right password: the name's count starts again."""
        self._failures.pop(name, None)


class AccountService:
    """Accounts and their dossier types."""

    def __init__(self, db: Database, config: PortalConfig) -> None:
        self.db = db
        self.config = config
        self._login_failures = LoginThrottle(config)
        self._password_checks = asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)

    def _now(self) -> str:
        return self.config.clock().isoformat()

    def get(self, account_id: int) -> sqlite3.Row | None:
        """An account by id."""
        return self.db.one("SELECT * FROM accounts WHERE id = ?", (account_id,))

    def by_mst(self, mst: str) -> sqlite3.Row | None:
        """An account by tax code."""
        return self.db.one("SELECT * FROM accounts WHERE mst = ?", (mst,))

    def types(self, account_id: int) -> dict[str, str]:
        """procedure -> 'registered' | 'stopped' for this account."""
        rows = self.db.all(
            "SELECT procedure, status FROM account_types WHERE account_id = ?", (account_id,)
        )
        return {r["procedure"]: r["status"] for r in rows}

    def _event(
        self, account_id: int, action: str, detail: dict[str, Any], signed: SignedRequest
    ) -> None:
        try:
            # The same sentence the unit's consent dialog showed (the agent library's summary).
            summary = summarize_xml(signed.document).title
        except KysoError:  # verified moments ago, so not expected; the file itself is kept
            summary = ""
        self.db.run(
            "INSERT INTO account_events (account_id, action, detail, cert_thumbprint, at, "
            "signed_request, request_sha256, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account_id,
                action,
                json.dumps(detail, ensure_ascii=False),
                signed.verification.signer.thumbprint,
                self._now(),
                signed.document,
                signed.sha256,
                summary,
            ),
        )

    def history(self, account_id: int, limit: int = 20) -> list[sqlite3.Row]:
        """The account's signed requests, newest first (without the files)."""
        return self.db.all(
            "SELECT id, action, at, summary, request_sha256, cert_thumbprint, "
            "signed_request IS NOT NULL AS has_request FROM account_events "
            "WHERE account_id = ? ORDER BY id DESC LIMIT ?",
            (account_id, limit),
        )

    def signed_request(self, account_id: int, event_id: int) -> sqlite3.Row | None:
        """One stored signed request of this account (None: not this account's, or none)."""
        return self.db.one(
            "SELECT id, action, at, signed_request, request_sha256 FROM account_events "
            "WHERE id = ? AND account_id = ? AND signed_request IS NOT NULL",
            (event_id, account_id),
        )

    @staticmethod
    def _require_mst(cert: CertificateInfo, mst: str) -> None:
        if cert.mst != mst:
            raise PortalError("MST_MISMATCH", {"cert_mst": cert.mst or "(không có)", "mst": mst})

    def _require_registered(self, account: sqlite3.Row, cert: CertificateInfo) -> None:
        self._require_mst(cert, account["mst"])
        if cert.thumbprint != account["cert_thumbprint"]:
            raise PortalError("CERT_NOT_REGISTERED", {"thumbprint": cert.thumbprint})

    def _set_types(self, account_id: int, types: list[str], status: str) -> None:
        now = self._now()
        for procedure in types:
            self.db.run(
                "INSERT INTO account_types (account_id, procedure, status, changed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account_id, procedure) DO UPDATE SET status = excluded.status, "
                "changed_at = excluded.changed_at",
                (account_id, procedure, status, now),
            )

    def register(
        self, values: dict[str, Any], signed: SignedRequest, device: str | None = None
    ) -> Registration:
        """Register a unit signed by ``cert`` (whose MST must be the unit's).

        A unit that cancelled earlier gets its old account back (same user name, same password,
        as the e-BHXH rules say); an active unit is told to log in instead. ``device`` is the
        token or service Kyso reported (``certwords.parse_device``), display only.
        """
        mst = values["ma_so_thue"]
        cert = signed.verification.signer
        self._require_mst(cert, mst)
        existing = self.by_mst(mst)
        now = self._now()
        columns = {col: values[name] for name, col in _DETAIL_COLUMNS.items()}
        cert_cols = {
            "cert_thumbprint": cert.thumbprint,
            "cert_der": cert.der,
            "cert_subject": cert.subject,
            "cert_not_after": cert.not_after,
            "cert_device": device,
        }
        with self.db.transaction():
            if existing is not None:
                if existing["status"] == "active":
                    raise PortalError(
                        "ACCOUNT_EXISTS", {"mst": mst, "username": existing["username"]}
                    )
                sets = {
                    **columns,
                    **cert_cols,
                    "unit_code": values["ma_don_vi"],
                    "status": "active",
                    "cancel_reason": None,
                    "updated_at": now,
                }
                self.db.run(
                    f"UPDATE accounts SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                    (*sets.values(), existing["id"]),
                )
                account_id, password, reactivated = existing["id"], None, True
            else:
                password = generate_password()
                row = {
                    "username": username_for(mst),
                    "password_hash": hash_password(password),
                    "mst": mst,
                    "unit_code": values["ma_don_vi"],
                    **columns,
                    **cert_cols,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                cur = self.db.run(
                    f"INSERT INTO accounts ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                    tuple(row.values()),
                )
                account_id, reactivated = int(cur.lastrowid or 0), False
            self._set_types(account_id, values["loai_ho_so"], "registered")
            self._event(account_id, "register", values, signed)
        account = self.get(account_id)
        assert account is not None
        return Registration(account, password, reactivated)

    def forget(self, account_id: int) -> None:
        """Remove a just-created account whose account mail could not be sent."""
        with self.db.transaction():
            for table in ("account_types", "account_events", "sessions"):
                self.db.run(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
            self.db.run("DELETE FROM accounts WHERE id = ?", (account_id,))

    async def login(self, username: str, password: str) -> sqlite3.Row:
        """The account for these credentials, or E101 / E105; E109 while the user name is
        throttled after :data:`LOGIN_FAILURES` wrong passwords in :data:`LOGIN_WINDOW`."""
        name = username.strip()[:200]
        self._login_failures.check(name)
        account = self.db.one("SELECT * FROM accounts WHERE username = ?", (name,))
        # An unknown user name costs the same argon2 work as a wrong password.
        stored = account["password_hash"] if account is not None else _DUMMY_HASH
        # argon2 takes tens of ms of CPU: on a thread, a few at a time, so a flood of log-ins
        # neither stalls every other request on the event loop nor takes every core.
        async with self._password_checks:
            good = await asyncio.to_thread(check_password, stored, password)
        if not good or account is None:
            self._login_failures.failed(name)
            raise PortalError("LOGIN_FAILED")
        self._login_failures.forget(name)
        if account["status"] != "active":
            raise PortalError("ACCOUNT_CANCELLED")
        return account

    def add_types(self, account: sqlite3.Row, types: list[str], signed: SignedRequest) -> None:
        """ "Đăng ký thêm hồ sơ"."""
        self._require_registered(account, signed.verification.signer)
        with self.db.transaction():
            self._set_types(account["id"], types, "registered")
            self._event(account["id"], "add-types", {"loai_ho_so": types}, signed)

    def stop_types(self, account: sqlite3.Row, types: list[str], signed: SignedRequest) -> None:
        """ "Đăng ký ngừng hồ sơ": only types currently registered can be stopped."""
        self._require_registered(account, signed.verification.signer)
        current = self.types(account["id"])
        not_registered = [t for t in types if current.get(t) != "registered"]
        if not_registered:
            raise PortalError("TYPE_NOT_REGISTERED", {"procedure": ", ".join(not_registered)})
        with self.db.transaction():
            self._set_types(account["id"], types, "stopped")
            self._event(account["id"], "stop-types", {"loai_ho_so": types}, signed)

    def cancel(self, account: sqlite3.Row, reason: dict[str, str], signed: SignedRequest) -> None:
        """ "Ngưng dịch vụ": the account stays (for a later re-registration), sessions end."""
        self._require_registered(account, signed.verification.signer)
        text = CANCEL_REASONS[reason["ly_do"]] + (
            f": {reason['ghi_chu']}" if reason["ghi_chu"] else ""
        )
        with self.db.transaction():
            self.db.run(
                "UPDATE accounts SET status = 'cancelled', cancel_reason = ?, updated_at = ? WHERE id = ?",
                (text, self._now(), account["id"]),
            )
            self.db.run("DELETE FROM sessions WHERE account_id = ?", (account["id"],))
            self._event(account["id"], "cancel", reason, signed)

    def change_details(
        self, account: sqlite3.Row, values: dict[str, Any], signed: SignedRequest
    ) -> None:
        """ "Thay đổi thông tin" (details)."""
        self._require_registered(account, signed.verification.signer)
        sets = {col: values[name] for name, col in _DETAIL_COLUMNS.items()}
        with self.db.transaction():
            self.db.run(
                f"UPDATE accounts SET {', '.join(f'{k} = ?' for k in sets)}, updated_at = ? WHERE id = ?",
                (*sets.values(), self._now(), account["id"]),
            )
            self._event(account["id"], "change-details", values, signed)

    def change_certificate(
        self, account: sqlite3.Row, signed: SignedRequest, device: str | None = None
    ) -> None:
        """ "Thay đổi thông tin" (certificate): signed with the NEW certificate, same MST;
        ``device`` is where Kyso said the new one lives (display only)."""
        cert = signed.verification.signer
        self._require_mst(cert, account["mst"])
        if cert.thumbprint == account["cert_thumbprint"]:
            raise PortalError("CERT_UNCHANGED")
        with self.db.transaction():
            self.db.run(
                "UPDATE accounts SET cert_thumbprint = ?, cert_der = ?, cert_subject = ?, "
                "cert_not_after = ?, cert_device = ?, updated_at = ? WHERE id = ?",
                (
                    cert.thumbprint,
                    cert.der,
                    cert.subject,
                    cert.not_after,
                    device,
                    self._now(),
                    account["id"],
                ),
            )
            self._event(
                account["id"], "change-certificate", {"old": account["cert_thumbprint"]}, signed
            )
