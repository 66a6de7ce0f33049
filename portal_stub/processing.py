"""The simulated BHXH office: moves submitted dossiers along and writes notices.

received → processing → accepted, or rejected with a reason (rows paid below the regional
minimum wage, found by the check and stored as ``review``). A background task can do this on
a timer; tests and demos call :func:`advance` (the debug API) to be deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.dossiers import add_notice

log = logging.getLogger(__name__)


def advance(
    db: Database,
    now: dt.datetime,
    *,
    dossier_id: int | None = None,
    older_than: dt.timedelta | None = None,
) -> list[dict[str, str]]:
    """Move each unfinished dossier (or just ``dossier_id``) one step; return the changes."""
    sql = "SELECT * FROM dossiers WHERE status IN ('received', 'processing')"
    params: list[object] = []
    if dossier_id is not None:
        sql += " AND id = ?"
        params.append(dossier_id)
    if older_than is not None:
        sql += " AND updated_at <= ?"
        params.append((now - older_than).isoformat())
    changes = []
    for row in db.all(sql, params):
        with db.transaction():
            if row["status"] == "received":
                status, reason, note = "processing", None, "Cán bộ BHXH đang xử lý hồ sơ"
            elif row["review"]:
                status, reason, note = "rejected", row["review"], row["review"]
            else:
                status, reason, note = "accepted", None, "Hồ sơ đã được giải quyết"
            db.run(
                "UPDATE dossiers SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
                (status, reason, now.isoformat(), row["id"]),
            )
            db.run(
                "INSERT INTO dossier_history (dossier_id, status, note, at) VALUES (?, ?, ?, ?)",
                (row["id"], status, note, now.isoformat()),
            )
            if status == "accepted":
                add_notice(
                    db,
                    row["account_id"],
                    row["id"],
                    now,
                    f"Thông báo kết quả giải quyết hồ sơ {row['dossier_number']}",
                    f"Hồ sơ số {row['dossier_number']} (biên nhận {row['receipt']}, thủ tục "
                    f"{row['procedure']} – {row['procedure_name']}, kỳ {row['period']}) đã được "
                    f"cơ quan BHXH giải quyết. Số lao động: {row['employees']}.",
                )
            elif status == "rejected":
                add_notice(
                    db,
                    row["account_id"],
                    row["id"],
                    now,
                    f"Thông báo từ chối hồ sơ {row['dossier_number']}",
                    f"Hồ sơ số {row['dossier_number']} (biên nhận {row['receipt']}) không được "
                    f"chấp nhận. Lý do: {reason} Đơn vị điều chỉnh và lập hồ sơ mới (số hồ sơ "
                    "mới) rồi nộp lại.",
                )
        changes.append({"id": str(row["id"]), "receipt": row["receipt"], "status": status})
    return changes


@contextlib.asynccontextmanager
async def background(config: PortalConfig, db: Database) -> AsyncIterator[None]:
    """Advance dossiers every ``config.process_interval`` seconds (disabled when 0)."""
    if config.process_interval <= 0:
        yield
        return

    async def loop() -> None:
        interval = dt.timedelta(seconds=config.process_interval)
        while True:
            await asyncio.sleep(config.process_interval)
            try:
                advance(db, config.clock(), older_than=interval)
            except Exception:  # keep the office running; the error is logged
                log.exception("simulated processing failed")

    task = asyncio.create_task(loop(), name="bhxh-office")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
