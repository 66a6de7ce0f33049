"""Annotation flags that make a PDF show one thing on screen and print another, with no
action at all (a white box without the Print flag over a clause): read by the active-content
walk (:mod:`agent.signing.pdf.active`). Pure logic over pyHanko's objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Annotation flags (ISO 32000-1, 12.5.3).
_HIDDEN, _PRINT, _NO_VIEW = 2, 4, 32


# Annotations a reader draws from their own entries when they have no appearance stream.
_READER_DRAWN = frozenset(
    {
        "/Square", "/Circle", "/FreeText", "/Line", "/Polygon", "/PolyLine", "/Ink",
        "/Highlight", "/Underline", "/StrikeOut", "/Squiggly", "/Stamp", "/Text", "/Caret",
    }
)  # fmt: skip


def view_differs_from_print(node: Any, subtype: str, value_of: Callable[[Any, str], Any]) -> bool:
    """Whether an annotation that draws something (an appearance, or a kind readers draw
    themselves) over an area shows on screen but is not printed (no Print flag), or is printed
    but not shown (NoView with Print). Hidden ones show nowhere. A form field's widget counts
    only when printed but not shown: screen-only buttons ("Print this form") are common.
    ``value_of(node, key)`` reads an entry (the walk's bounded reader)."""
    if "/AP" not in node and subtype not in _READER_DRAWN:
        return False
    if not _has_area(value_of(node, "/Rect")):
        return False
    flags = value_of(node, "/F")
    value = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
    if value & _HIDDEN:
        return False
    if value & _NO_VIEW:
        return bool(value & _PRINT)
    return subtype != "/Widget" and not value & _PRINT


def _has_area(rect: Any) -> bool:
    """A /Rect at least a point wide and high (an invisible signature's is empty)."""
    if not isinstance(rect, list) or len(rect) != 4:
        return False
    try:
        # A number may stand behind a reference (1 0 R): read as readers read it.
        x1, y1, x2, y2 = (float(v.get_object() if hasattr(v, "get_object") else v) for v in rect)
    except (TypeError, ValueError):
        return False
    return abs(x2 - x1) >= 1 and abs(y2 - y1) >= 1
