"""Times as people in Vietnam read them. Pure logic.

The database keeps ISO 8601 in UTC (sortable, unambiguous); everything a person reads — pages,
mails, receipts, the account requests they sign — is in Vietnam time and says so.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    VIETNAM: dt.tzinfo = ZoneInfo("Asia/Ho_Chi_Minh")
except ZoneInfoNotFoundError:  # no tz database (a bare container): Vietnam has no DST
    VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")

LABEL = "giờ Việt Nam"


def to_vietnam(value: dt.datetime | str) -> dt.datetime:
    """``value`` (a datetime or ISO text; naive means UTC, as the database stores) in Vietnam
    time."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(VIETNAM)


def vietnam_iso(value: dt.datetime | str) -> str:
    """ISO 8601 with the +07:00 offset, to the second (for documents a unit signs)."""
    return to_vietnam(value).replace(microsecond=0).isoformat()


def when(value: dt.datetime | str | None, *, label: bool = True) -> str:
    """ "dd/mm/yyyy HH:MM (giờ Việt Nam)"; empty for no value, the text itself if unreadable."""
    if not value:
        return ""
    if isinstance(value, str) and len(value) == 10:  # a date alone has no time zone
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    try:
        local = to_vietnam(value)
    except (TypeError, ValueError):
        return str(value)
    text = local.strftime("%d/%m/%Y %H:%M")
    return f"{text} ({LABEL})" if label else text
