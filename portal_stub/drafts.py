"""The iBHXH stand-in: a unit's drafts, their saved versions and their unsigned export.

``DossierService`` (portal_stub/dossiers.py) builds on ``DraftStore``: what is uploaded and
submitted is checked against the draft version it was signed from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from agent.errors import KysoError
from agent.signing.xml import parse_untrusted
from portal_stub.checks import CheckResult
from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.dossier_xml import Employee, Unit, build_dossier, parse_rows, valid_period
from portal_stub.errors import PortalError
from portal_stub.signed_content import canonical_bytes
from portal_stub.timefmt import to_vietnam


@dataclass(frozen=True)
class DraftVersion:
    """One saved version of a draft: what a draft page showed, and so what its "Ký và nộp"
    may sign. ``revision`` counts the draft's saves ("Ghi"); it starts at 1."""

    draft_id: int
    revision: int

    @classmethod
    def parse(cls, draft_id: Any, revision: Any) -> DraftVersion | None:
        """From a form or JSON: both absent means no draft named (a file signed elsewhere);
        a draft without its revision, or anything but whole numbers, is refused."""
        given = [str(v).strip() for v in (draft_id, revision) if v not in (None, "")]
        if not given:
            return None
        if len(given) != 2 or not all(v.isdigit() and len(v) <= 18 for v in given):
            raise PortalError(
                "FORM_INVALID", {"detail": "hồ sơ và phiên bản của hồ sơ phải đi cùng nhau"}
            )
        return cls(int(given[0]), int(given[1]))


class DraftStore:
    """A portal's drafts ("Ghi", "Lấy số hồ sơ", "Xuất file") and the dossier catalogue."""

    def __init__(self, db: Database, config: PortalConfig) -> None:
        self.db = db
        self.config = config

    def _now(self) -> dt.datetime:
        return self.config.clock()

    # --- catalogue -------------------------------------------------------------------------------

    def catalogue(self) -> dict[str, str]:
        """procedure -> name."""
        return {r["procedure"]: r["name"] for r in self.db.all("SELECT * FROM dossier_types")}

    # --- drafts ---------------------------------------------------------------------------------

    def drafts(self, account_id: int) -> list[sqlite3.Row]:
        """The unit's drafts, newest first."""
        return self.db.all(
            "SELECT * FROM drafts WHERE account_id = ? ORDER BY id DESC", (account_id,)
        )

    def draft(self, account_id: int, draft_id: int) -> sqlite3.Row:
        """One of the unit's drafts, or E107."""
        row = self.db.one(
            "SELECT * FROM drafts WHERE id = ? AND account_id = ?", (draft_id, account_id)
        )
        if row is None:
            raise PortalError("NOT_FOUND")
        return row

    def save_draft(
        self,
        account: sqlite3.Row,
        *,
        draft_id: int | None,
        period: str,
        rows: list[dict[str, str]],
        procedure: str = "600",
    ) -> int:
        """ "Ghi": create or update a procedure-600 draft with its D02-TS rows."""
        if not valid_period(period):
            raise PortalError("FORM_INVALID", {"detail": "kỳ kê khai phải có dạng MM/YYYY"})
        employees = parse_rows(rows)
        if not employees:
            raise PortalError("FORM_INVALID", {"detail": "chưa có người lao động nào trong D02-TS"})
        data = json.dumps([e.__dict__ for e in employees], ensure_ascii=False)
        now = self._now().isoformat()
        if draft_id is None:
            cur = self.db.run(
                "INSERT INTO drafts (account_id, procedure, period, contact_name, phone, email, "
                "rows_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account["id"],
                    procedure,
                    period,
                    account["contact_name"],
                    account["phone"],
                    account["email"],
                    data,
                    now,
                    now,
                ),
            )
            return int(cur.lastrowid or 0)
        self.draft(account["id"], draft_id)
        # A new revision on every save: a page drawn from the old one can no longer sign.
        self.db.run(
            "UPDATE drafts SET period = ?, rows_json = ?, updated_at = ?, "
            "revision = revision + 1 WHERE id = ?",
            (period, data, now, draft_id),
        )
        return draft_id

    def current(self, account_id: int, version: DraftVersion) -> sqlite3.Row:
        """The draft, if ``version`` is still the saved one; else E422 (or E107)."""
        draft = self.draft(account_id, version.draft_id)
        if draft["revision"] != version.revision:
            raise PortalError(
                "DRAFT_CHANGED",
                {
                    "dossier_number": draft["dossier_number"] or "",
                    "shown": version.revision,
                    "current": draft["revision"],
                },
            )
        return draft

    def take_number(self, account: sqlite3.Row, draft_id: int) -> str:
        """ "Lấy số hồ sơ": a number unique to the unit (kept if already taken)."""
        draft = self.draft(account["id"], draft_id)
        if draft["dossier_number"]:
            return str(draft["dossier_number"])
        year = self._now().year
        prefix = f"{account['unit_code']}-{year}-"
        with self.db.transaction():
            row = self.db.one(
                "SELECT COUNT(*) AS n FROM drafts WHERE dossier_number LIKE ?", (prefix + "%",)
            )
            number = f"{prefix}{(row['n'] if row else 0) + 1:05d}"
            self.db.run("UPDATE drafts SET dossier_number = ? WHERE id = ?", (number, draft_id))
        return number

    def draft_rows(self, draft: sqlite3.Row) -> list[Employee]:
        """The stored employee rows."""
        return [Employee(**r) for r in json.loads(draft["rows_json"])]

    def export(
        self, account: sqlite3.Row, draft_id: int, revision: int | None = None
    ) -> tuple[str, bytes]:
        """ "Xuất file BHXH-VAN": (file name, unsigned XML). With ``revision`` (what the page
        showed), E422 unless that is still the saved version."""
        if revision is None:
            draft = self.draft(account["id"], draft_id)
        else:
            draft = self.current(account["id"], DraftVersion(draft_id, revision))
        if not draft["dossier_number"]:
            raise PortalError("DOSSIER_NUMBER_MISSING")
        office = self.db.one("SELECT name FROM offices WHERE code = ?", (account["office_code"],))
        unit = Unit(
            name=account["unit_name"],
            unit_code=account["unit_code"],
            mst=account["mst"],
            office_name=office["name"] if office else account["office_code"],
            contact_name=draft["contact_name"],
            phone=draft["phone"],
            email=draft["email"],
        )
        data = build_dossier(
            unit,
            procedure=draft["procedure"],
            procedure_name=self.catalogue()[draft["procedure"]],
            period=draft["period"],
            dossier_number=draft["dossier_number"],
            created=to_vietnam(draft["updated_at"]).date(),  # the unit's calendar day
            rows=self.draft_rows(draft),
        )
        safe_number = draft["dossier_number"].replace("/", "-")
        return f"BHXH-VAN_{draft['procedure']}_{safe_number}.xml", data

    def export_digest(self, account: sqlite3.Row, version: DraftVersion) -> str:
        """SHA-256 of the canonical content of ``version``'s export: what a dossier signed
        from it has as ``CheckResult.content_digest`` (the signature left out)."""
        _, data = self.export(account, version.draft_id, version.revision)
        try:
            root = parse_untrusted(data, max_bytes=len(data) + 1).getroot()
        except KysoError as exc:  # not expected: the portal's own file
            raise PortalError("INTERNAL", {"detail": exc.code}, cause=exc) from exc
        return hashlib.sha256(canonical_bytes(root)).hexdigest()

    def require_signed_from(
        self, account: sqlite3.Row, version: DraftVersion, result: CheckResult, expected: str
    ) -> None:
        """E423 unless the checked dossier's signed content is ``expected`` (the digest of
        ``version``'s export); E422 if the draft was saved again meanwhile."""
        draft = self.current(account["id"], version)
        if result.content_digest != expected:
            raise PortalError(
                "DRAFT_MISMATCH",
                {"dossier_number": draft["dossier_number"] or "", "revision": version.revision},
            )
