"""``kyso-agent audit``: list the signatures Kyso made or refused, newest first."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.audit import AuditLog
from agent.cli.output import print_json, table
from agent.errors import invalid_input

VN_LABEL = "giờ Việt Nam (UTC+7)"
DEFAULT_LIMIT = 20

HELP = f"""\
Nhật ký ký số ghi lại mọi lần ký mà Kyso đã thực hiện hoặc từ chối, do trang web yêu cầu
(kênh agent) hay chạy từ dòng lệnh (kênh cli: sign-xml, sign-cms). Mỗi bản ghi có thời điểm,
trang web yêu cầu hoặc tên tệp, thao tác, mã SHA-256 của tài liệu, chứng thư số đã dùng (người
ký, số sê-ri, token) và kết quả: đã ký, bị từ chối (kèm mã lỗi) hoặc đã hủy. Nhật ký không bao
giờ chứa mã PIN hay nội dung tài liệu.

Signing audit log: every signature Kyso made or refused, asked by a web page (channel agent)
or on the command line (channel cli: sign-xml, sign-cms). Each record has the time, the page's
origin or the file's name, the action, the document's SHA-256, the certificate used (holder,
serial, token) and the outcome: signed, refused (with the error code) or cancelled. It never
holds the PIN or the document's content.

Times are shown in {VN_LABEL}; the file itself stores UTC. Newest records come first.

Examples:
  kyso-agent audit                               the {DEFAULT_LIMIT} most recent records
  kyso-agent audit --since 2026-12-01            since 1 Dec 2026, 00:00 {VN_LABEL}
  kyso-agent audit --since 7d --channel cli      command-line signatures of the last 7 days
  kyso-agent audit --origin dichvucong.baohiemxahoi.gov.vn --limit 0
                                                 everything that site asked for
  kyso-agent audit --sha256 "$(sha256sum hoso.xml | cut -c1-64)"
                                                 was this exact file signed, and when?
  kyso-agent audit --json                        for scripts (times in UTC, as stored)

The log is audit.jsonl in Kyso's log folder (its path is printed under every listing), one JSON
object per line; at 5 MB it moves to audit.jsonl.1, and the five newest old files are kept.
"""

_RELATIVE = re.compile(r"^(\d{1,6})\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
OUTCOME_TEXT = {
    "signed": "đã ký / signed",
    "refused": "từ chối / refused",
    "cancelled": "đã hủy / cancelled",
}


def vietnam_tz() -> dt.tzinfo:
    """Asia/Ho_Chi_Minh; a fixed UTC+7 where the tz database is missing (Vietnam has had no
    other offset since 1975, so every record reads the same either way)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Ho_Chi_Minh")
    except Exception:  # ZoneInfoNotFoundError, or no tzdata on Windows
        return dt.timezone(dt.timedelta(hours=7), "ICT")


def register(sub: Any) -> None:
    """Add ``audit``."""
    p = sub.add_parser(
        "audit",
        help="list the signatures Kyso made or refused (audit log)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N records, newest first (default {DEFAULT_LIMIT}; 0 = all)",
    )
    p.add_argument(
        "--since",
        metavar="WHEN",
        help=f"only records from WHEN on: a date (2026-12-01), a date and time "
        f"(2026-12-01 08:30), both in {VN_LABEL} unless an offset is given, "
        "or a span back from now (30m, 24h, 7d)",
    )
    p.add_argument(
        "--origin",
        metavar="SITE",
        type=_site_filter,
        help="only what this web page asked for: an origin (https://portal.example.vn) "
        "or just its host name",
    )
    p.add_argument(
        "--channel",
        choices=("agent", "cli"),
        help="agent: asked by a web page; cli: sign-xml / sign-cms on the command line",
    )
    p.add_argument(
        "--sha256",
        type=_hex_prefix,
        metavar="HEX",
        help="only records of the document with this SHA-256 (or prefix)",
    )
    p.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="read this audit log instead of this computer's (e.g. a copy sent to support)",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts (times in UTC)")
    p.set_defaults(func=run_audit)


def _hex_prefix(text: str) -> str:
    """A SHA-256 or its prefix: 1 to 64 hex digits (a typo would match nothing, silently)."""
    value = text.strip().lower()
    if not value or len(value) > 64 or any(c not in "0123456789abcdef" for c in value):
        raise argparse.ArgumentTypeError("give 1 to 64 hex digits of the document's SHA-256")
    return value


def _limit(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("N must be 0 (all) or more")
    return value


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An aware datetime from --since: a span back from ``now``, or a date/time in Vietnam
    time unless it carries its own offset. INPUT_INVALID when it is none of these."""
    value = text.strip()
    match = _RELATIVE.match(value.lower())
    if match:
        now = now or dt.datetime.now(dt.UTC)
        return now - dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise invalid_input(
            f"--since {text[:40]!r}: use 2026-12-01, '2026-12-01 08:30', 24h or 7d",
            f"--since {text[:40]!r}: hãy ghi ngày như 2026-12-01, '2026-12-01 08:30', "
            "hoặc khoảng thời gian như 24h, 7d",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=vietnam_tz())


def record_time(record: dict[str, Any]) -> dt.datetime | None:
    """The record's time (aware), or None when it is missing or unreadable."""
    value = record.get("time")
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _site_filter(value: str) -> str:
    """argparse ``type=`` for ``--origin``: an empty SITE used to match every record."""
    if not value.strip().rstrip("/"):
        raise argparse.ArgumentTypeError("give a site: an origin or a host name")
    return value


def _origin_matches(record: dict[str, Any], wanted: str) -> bool:
    origin = record.get("origin")
    if not isinstance(origin, str):
        return False
    wanted = wanted.strip().rstrip("/").lower()
    if "://" in wanted:
        return origin.rstrip("/").lower() == wanted
    try:
        return (urlsplit(origin).hostname or "") == wanted
    except ValueError:
        return False


def select(
    records: list[dict[str, Any]],
    *,
    since: dt.datetime | None = None,
    origin: str | None = None,
    channel: str | None = None,
    sha256: str | None = None,
) -> list[dict[str, Any]]:
    """The records that pass every filter given, in the order given (newest first)."""
    digest = sha256.strip().lower() if sha256 else None
    chosen = []
    for record in records:
        if channel and record.get("channel", "agent") != channel:
            continue  # lines from before channels existed were all the agent's
        if origin and not _origin_matches(record, origin):
            continue
        if digest and not str(record.get("sha256") or record.get("digest") or "").startswith(
            digest
        ):
            continue
        if since is not None:
            when = record_time(record)
            try:
                if when is None or when < since:
                    continue
            except OverflowError:  # a time at the edge of the calendar: not a recent one
                continue
        chosen.append(record)
    return chosen


def safe(value: Any, width: int | None = None, *, keep_end: bool = False) -> str:
    """Text fit for a terminal: control and direction-changing characters (a file name or an
    origin could carry escape sequences or U+202E) are shown as \\uXXXX, never interpreted.
    Past ``width`` it loses its end, or with ``keep_end`` its middle (file names: the end
    tells ``thang10.pdf`` from ``thang11.pdf``)."""
    text = "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c)[0] == "C" else c for c in str(value)
    )
    if width is not None and len(text) > width:
        if keep_end:
            tail = (width * 2) // 3
            text = text[: width - tail - 1] + "…" + text[len(text) - tail :]
        else:
            text = text[: width - 1] + "…"
    return text


def _row(record: dict[str, Any], tz: dt.tzinfo) -> list[str]:
    when = record_time(record)
    try:
        shown = when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if when else "?"
    except (OverflowError, ValueError):  # "0001-01-01T00:00:00+14:00": no such local time
        shown = safe(record.get("time", "?"), 32)
    outcome = str(record.get("outcome") or ("signed" if record.get("result") == "OK" else ""))
    result = OUTCOME_TEXT.get(outcome, safe(outcome, 12))
    if outcome != "signed" and record.get("result"):
        result += f" [{safe(record['result'], 32)}]"
    action = safe(record.get("method", ""), 16)
    if record.get("item") is not None:
        action += f" #{safe(record['item'], 6)}"
    digest = record.get("sha256") or record.get("digest") or ""
    return [
        shown,
        safe(record.get("channel", "agent"), 5),
        # A site is told apart by its start, a file by its end (red team 41).
        safe(record.get("origin") or "", 48)
        if record.get("origin")
        else safe(record.get("file") or "", 48, keep_end=True),
        action,
        result,
        safe(record.get("subject_cn") or "", 32),
        safe(digest, 17),  # 16 hex digits and "…": enough to find it with --sha256
    ]


def run_audit(args: argparse.Namespace) -> int:
    """Print the matching records, newest first."""
    since = parse_since(args.since) if args.since else None
    if args.file is not None and not args.file.is_file():
        raise invalid_input(
            f"no audit log at {args.file}", f"không có nhật ký kiểm toán tại {args.file}"
        )
    log = AuditLog(args.file)  # None: this computer's log
    try:
        records, unreadable = log.read(lock=args.file is None)
    except OSError as exc:
        raise invalid_input(
            f"cannot read the audit log {log.path}: {exc.strerror}",
            f"không đọc được nhật ký kiểm toán {log.path} ({exc.strerror})",
        ) from exc
    matched = select(
        records, since=since, origin=args.origin, channel=args.channel, sha256=args.sha256
    )
    shown = matched if args.limit == 0 else matched[: args.limit]
    if args.json:
        print_json(
            {
                "file": str(log.path),
                "matched": len(matched),
                "unreadable_lines": unreadable,
                "records": shown,
            }
        )
        return 0
    if not shown:
        print(
            "Không có bản ghi nào khớp / no matching records"
            if records
            else "Chưa có bản ghi nào / no records yet"
        )
    else:
        tz = vietnam_tz()
        print(f"Nhật ký ký số / signing audit log — {VN_LABEL}, mới nhất trước / newest first")
        headers = [
            "thời gian / time",
            "kênh / channel",
            "trang web hoặc tệp / origin or file",
            "thao tác / action",
            "kết quả / outcome",
            "người ký / signer",
            "SHA-256",
        ]
        print(table([_row(r, tz) for r in shown], headers))
        print(f"{len(shown)}/{len(matched)} bản ghi / records")
    if unreadable:
        print(f"{unreadable} dòng không đọc được đã bỏ qua / unreadable lines skipped")
    print(f"Tệp / file: {log.path}")
    return 0
