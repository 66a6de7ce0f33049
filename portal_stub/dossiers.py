"""Checked uploads, submissions, look-ups and notices (database); drafts are drafts.py's."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from typing import Any

from portal_stub.attachments import Attachment, AttachmentResult
from portal_stub.checks import CheckResult, UnitContext
from portal_stub.db import Database
from portal_stub.dossier_xml import valid_period
from portal_stub.drafts import DraftStore, DraftVersion
from portal_stub.errors import PortalError
from portal_stub.security import new_token
from portal_stub.timefmt import when

STATUS_LABELS = {
    "received": "Đã tiếp nhận",
    "processing": "Đang xử lý",
    "accepted": "Đã giải quyết",
    "rejected": "Từ chối",
}
UPLOAD_TTL = dt.timedelta(hours=1)


class DossierService(DraftStore):
    """Everything about dossiers for one portal (its drafts: ``DraftStore``)."""

    # --- context ---------------------------------------------------------------------------------

    def unit_context(self, account: sqlite3.Row, types: dict[str, str]) -> UnitContext:
        """What the check needs to know about the logged-in unit."""
        return UnitContext(
            mst=account["mst"],
            unit_code=account["unit_code"],
            cert_thumbprint=account["cert_thumbprint"],
            types=types,
            catalogue=self.catalogue(),
        )

    # --- check, upload, submit --------------------------------------------------------------------

    def find_duplicate(self, account_id: int, result: CheckResult) -> sqlite3.Row | None:
        """A submitted dossier with the same number, the same signed content (canonical
        digest: any variant of the file that keeps the signature valid) or the same bytes."""
        return self.db.one(
            "SELECT id, receipt FROM dossiers WHERE account_id = ? AND (dossier_number = ? "
            "OR content_digest = ? OR sha256 = ?) ORDER BY id LIMIT 1",
            (account_id, result.dossier_number, result.content_digest, result.sha256),
        )

    def refuse_duplicate(self, account_id: int, result: CheckResult) -> None:
        """E409 naming the earlier receipt when this dossier was already submitted."""
        dup = self.find_duplicate(account_id, result)
        if dup is not None:
            raise PortalError("DUPLICATE", {"receipt": dup["receipt"], "dossier_id": dup["id"]})

    def store_upload(
        self,
        account_id: int,
        data: bytes,
        result: CheckResult,
        attachments: list[Attachment] | None = None,
        draft: DraftVersion | None = None,
    ) -> str:
        """Keep a file (and its attachments) that passed the check; "Nộp hồ sơ" refers to it
        by the returned id. One transaction: an upload never exists without its attachments.
        ``draft``: the draft version it was signed from, checked again at "Nộp hồ sơ"."""
        upload_id = new_token()
        now = self._now()
        with self.db.transaction():
            # Expired uploads go, their attachments with them (ON DELETE CASCADE).
            self.db.run(
                "DELETE FROM uploads WHERE created_at < ?", ((now - UPLOAD_TTL).isoformat(),)
            )
            self.db.run(
                "INSERT INTO uploads (id, account_id, sha256, content, summary_json, created_at, "
                "draft_id, draft_revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload_id,
                    account_id,
                    result.sha256,
                    data,
                    json.dumps(result.to_json()),
                    now.isoformat(),
                    draft.draft_id if draft else None,
                    draft.revision if draft else None,
                ),
            )
            for position, item in enumerate(attachments or [], start=1):
                self.db.run(
                    "INSERT INTO upload_attachments (upload_id, position, name, sha256, content) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        upload_id,
                        position,
                        item.name,
                        hashlib.sha256(item.data).hexdigest(),
                        item.data,
                    ),
                )
        return upload_id

    def upload_attachments(self, upload_id: str) -> list[Attachment]:
        """The attachments kept with a checked upload, in the order they were given."""
        rows = self.db.all(
            "SELECT name, content FROM upload_attachments WHERE upload_id = ? ORDER BY position",
            (upload_id,),
        )
        return [Attachment(r["name"], bytes(r["content"])) for r in rows]

    def attachments(self, dossier_id: int) -> list[sqlite3.Row]:
        """What the receipt lists about a dossier's attachments (without their content)."""
        return self.db.all(
            "SELECT id, position, name, sha256, size, pages, title, signer, signer_mst, "
            "signing_time, level, signatures FROM dossier_attachments WHERE dossier_id = ? "
            "ORDER BY position",
            (dossier_id,),
        )

    def attachment_file(self, account_id: int, dossier_id: int, attachment_id: int) -> sqlite3.Row:
        """One stored attachment of this unit's dossier (name and signed bytes), or E107."""
        row = self.db.one(
            "SELECT a.name, a.content FROM dossier_attachments a JOIN dossiers d "
            "ON d.id = a.dossier_id WHERE a.id = ? AND d.id = ? AND d.account_id = ?",
            (attachment_id, dossier_id, account_id),
        )
        if row is None:
            raise PortalError("NOT_FOUND")
        return row

    def upload(self, account_id: int, upload_id: str) -> sqlite3.Row:
        """A checked upload of this unit that has not expired, or E410."""
        row = self.db.one(
            "SELECT * FROM uploads WHERE id = ? AND account_id = ?", (upload_id or "", account_id)
        )
        if row is None or dt.datetime.fromisoformat(row["created_at"]) + UPLOAD_TTL < self._now():
            raise PortalError("CHECK_REQUIRED")
        return row

    def submit(
        self,
        account_id: int,
        upload_id: str,
        data: bytes,
        result: CheckResult,
        attachments: list[tuple[Attachment, AttachmentResult]] | None = None,
    ) -> sqlite3.Row:
        """ "Nộp hồ sơ": record the dossier and its checked attachments with a receipt number
        and a receipt notice, all in one transaction."""
        now = self._now()
        try:
            return self._record(account_id, upload_id, data, result, now, attachments or [])
        except sqlite3.IntegrityError:
            # The unique indexes are the last word (the look-up ran in the same transaction,
            # so this is not expected); the user still gets the earlier receipt.
            self.refuse_duplicate(account_id, result)
            raise

    def _record(
        self,
        account_id: int,
        upload_id: str,
        data: bytes,
        result: CheckResult,
        now: dt.datetime,
        attachments: list[tuple[Attachment, AttachmentResult]],
    ) -> sqlite3.Row:
        with self.db.transaction():
            self.refuse_duplicate(account_id, result)
            # Signed from a draft page: that version must still be the saved one (a save in
            # another tab after the check would otherwise file what the unit no longer sees).
            bound = self.db.one(
                "SELECT draft_id, draft_revision FROM uploads WHERE id = ?", (upload_id,)
            )
            if bound is not None and bound["draft_id"] is not None:
                self.current(account_id, DraftVersion(bound["draft_id"], bound["draft_revision"]))
            count = self.db.one("SELECT COUNT(*) AS n FROM dossiers")
            receipt = f"BN{now:%Y%m%d}{(count['n'] if count else 0) + 1:06d}"
            cur = self.db.run(
                "INSERT INTO dossiers (account_id, receipt, dossier_number, sha256, content_digest, "
                "procedure, procedure_name, period, employees, signer_subject, signer_thumbprint, "
                "signing_time, content, status, review, submitted_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?)",
                (
                    account_id,
                    receipt,
                    result.dossier_number,
                    result.sha256,
                    result.content_digest,
                    result.procedure,
                    result.procedure_name,
                    result.period,
                    result.employees,
                    result.signer_subject,
                    result.signer_thumbprint,
                    result.signing_time,
                    data,
                    result.review,
                    now.isoformat(),
                    now.isoformat(),
                ),
            )
            dossier_id = int(cur.lastrowid or 0)
            self._store_attachments(dossier_id, attachments)
            self.db.run(
                "INSERT INTO dossier_history (dossier_id, status, note, at) VALUES (?, 'received', ?, ?)",
                (dossier_id, "Hệ thống đã nhận hồ sơ", now.isoformat()),
            )
            self.db.run("DELETE FROM uploads WHERE id = ?", (upload_id,))
            add_notice(
                self.db,
                account_id,
                dossier_id,
                now,
                f"Thông báo tiếp nhận hồ sơ {result.dossier_number}",
                f"Cơ quan BHXH đã tiếp nhận hồ sơ số {result.dossier_number} (thủ tục "
                f"{result.procedure} – {result.procedure_name}, kỳ {result.period}), biên nhận "
                f"số {receipt}, lúc {when(now)}."
                + (f" Kèm theo {len(attachments)} tệp đính kèm đã ký." if attachments else ""),
            )
        row = self.dossier(account_id, dossier_id)
        return row

    def _store_attachments(
        self, dossier_id: int, attachments: list[tuple[Attachment, AttachmentResult]]
    ) -> None:
        """The dossier's signed attachments, in their order (inside the caller's transaction)."""
        for position, (item, found) in enumerate(attachments, start=1):
            self.db.run(
                "INSERT INTO dossier_attachments (dossier_id, position, name, sha256, size, "
                "pages, title, signer, signer_mst, signing_time, level, signatures, content) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    dossier_id,
                    position,
                    found.name,
                    found.sha256,
                    found.size,
                    found.pages,
                    found.title,
                    found.signer,
                    found.signer_mst,
                    found.signing_time,
                    found.level,
                    found.signatures,
                    item.data,
                ),
            )

    # --- look-ups ---------------------------------------------------------------------------------

    def dossier(self, account_id: int, dossier_id: int) -> sqlite3.Row:
        """One submitted dossier of this unit (without content), or E107."""
        row = self.db.one(
            "SELECT id, account_id, receipt, dossier_number, sha256, procedure, procedure_name, "
            "period, employees, signer_subject, signer_thumbprint, signing_time, status, "
            "status_reason, submitted_at, updated_at FROM dossiers WHERE id = ? AND account_id = ?",
            (dossier_id, account_id),
        )
        if row is None:
            raise PortalError("NOT_FOUND")
        return row

    def history(self, dossier_id: int) -> list[sqlite3.Row]:
        """Status changes of a dossier, oldest first."""
        return self.db.all(
            "SELECT status, note, at FROM dossier_history WHERE dossier_id = ? ORDER BY id",
            (dossier_id,),
        )

    def search(
        self,
        account_id: int,
        *,
        date_from: str = "",
        date_to: str = "",
        status: str = "",
        procedure: str = "",
        period: str = "",
    ) -> list[sqlite3.Row]:
        """ "Tra cứu hồ sơ" with filters (dates YYYY-MM-DD inclusive)."""
        sql = (
            "SELECT id, receipt, dossier_number, procedure, procedure_name, period, employees, "
            "status, status_reason, submitted_at, updated_at FROM dossiers WHERE account_id = ?"
        )
        params: list[Any] = [account_id]
        if date_from:
            sql += " AND submitted_at >= ?"
            params.append(_date(date_from))
        if date_to:
            sql += " AND submitted_at < ?"
            last = dt.date.fromisoformat(_date(date_to))
            # The day after, as an exclusive bound; 9999-12-31 has none: every day is before.
            params.append((last + dt.timedelta(days=1)).isoformat() if last < dt.date.max else "~")
        if status:
            if status not in STATUS_LABELS:
                raise PortalError("FORM_INVALID", {"detail": "trạng thái không hợp lệ"})
            sql += " AND status = ?"
            params.append(status)
        if procedure:
            sql += " AND procedure = ?"
            params.append(procedure)
        if period:
            sql += " AND period = ?"
            params.append(period)
        return self.db.all(sql + " ORDER BY submitted_at DESC, id DESC", params)

    def notices(self, account_id: int, period: str = "") -> list[sqlite3.Row]:
        """ "Nhận thông báo" for a period (MM/YYYY of the notice; empty: all)."""
        if period and not valid_period(period):
            raise PortalError("FORM_INVALID", {"detail": "kỳ phải có dạng MM/YYYY"})
        sql = "SELECT * FROM notices WHERE account_id = ?"
        params: list[Any] = [account_id]
        if period:
            sql += " AND period = ?"
            params.append(period)
        return self.db.all(sql + " ORDER BY created_at DESC, id DESC", params)

    def read_notice(self, account_id: int, notice_id: int) -> sqlite3.Row:
        """Open a notice (marks it read)."""
        row = self.db.one(
            "SELECT * FROM notices WHERE id = ? AND account_id = ?", (notice_id, account_id)
        )
        if row is None:
            raise PortalError("NOT_FOUND")
        if row["read_at"] is None:
            self.db.run(
                "UPDATE notices SET read_at = ? WHERE id = ?", (self._now().isoformat(), notice_id)
            )
        return row


def _date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise PortalError("FORM_INVALID", {"detail": "ngày phải có dạng YYYY-MM-DD"}) from exc


def add_notice(
    db: Database, account_id: int, dossier_id: int | None, at: dt.datetime, title: str, body: str
) -> None:
    """Add a notice for the unit (period = month of the notice)."""
    db.run(
        "INSERT INTO notices (account_id, dossier_id, period, title, body, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (account_id, dossier_id, f"{at:%m/%Y}", title, body, at.isoformat()),
    )
