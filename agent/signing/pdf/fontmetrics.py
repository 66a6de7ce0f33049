"""How far a PDF font moves the pen for each code, as readers compute it (PDF 32000 §9.2.4,
§9.7.4.3): a simple font's /Widths from /FirstChar, else its /MissingWidth, else the 14 core
fonts' own metrics; a composite font's /W and /DW. The sneaky-signature check needs the pen
where a reader puts it: a glyph drawn 30 pt off hides nothing of the check's view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# A glyph's width when the font gives none and is not a core font (1/1000 em; Latin and
# Vietnamese average about half an em).
ESTIMATED_WIDTH = 600.0
# Entries read from one font's /Widths or /W (a hostile font may list millions).
MAX_WIDTH_ENTRIES = 65_536


@dataclass(frozen=True)
class FontMetrics:
    """What the check needs of a font."""

    two_byte: bool  # a composite font (Type0): two bytes per code here (Identity-H and kin)
    type3: bool  # glyphs drawn by procedures: where they land is not the pen's place
    widths: dict[int, float] = field(default_factory=dict)  # code → 1/1000 em
    default: float = ESTIMATED_WIDTH
    # Codes of rule and leader characters (underscore, full stop) in a simple font.
    underscore: frozenset[int] = frozenset()
    full_stop: frozenset[int] = frozenset()

    def width(self, code: int) -> float:
        """The advance of ``code`` in 1/1000 em."""
        return self.widths.get(code, self.default)


NO_FONT = FontMetrics(two_byte=False, type3=False)


def metrics_of(font: Any) -> FontMetrics:
    """The metrics of a font dictionary (a pypdf object); estimates where it says nothing."""
    if not hasattr(font, "get"):
        return NO_FONT
    subtype = font.get("/Subtype")
    if subtype == "/Type0":
        return _composite(font)
    widths: dict[int, float] = {}
    default = ESTIMATED_WIDTH
    try:
        first = int(font.get("/FirstChar", 0))
        listed = _resolved(font.get("/Widths")) or []
        for offset, value in enumerate(list(listed)[:MAX_WIDTH_ENTRIES]):
            widths[first + offset] = float(value)
        descriptor = _resolved(font.get("/FontDescriptor"))
        if "/Widths" in font:  # codes it does not list move the pen by /MissingWidth
            default = float(descriptor.get("/MissingWidth", 0)) if descriptor else 0.0
    except (TypeError, ValueError, AttributeError) as exc:
        log.debug("font widths unreadable: %s", exc)
        widths = {}
    if "/Widths" not in font:
        core = _core_widths(str(font.get("/BaseFont", "")))
        if core is not None:
            widths, default = core
    return FontMetrics(
        two_byte=False,
        type3=subtype == "/Type3",
        widths=widths,
        default=default,
        underscore=frozenset({0x5F}),
        full_stop=frozenset({0x2E}),
    )


def _composite(font: Any) -> FontMetrics:
    widths: dict[int, float] = {}
    default = 1000.0
    try:
        descendant = _resolved(_resolved(font.get("/DescendantFonts"))[0])
        default = float(descendant.get("/DW", 1000))
        listed = list(_resolved(descendant.get("/W")) or [])[:MAX_WIDTH_ENTRIES]
        at = 0
        while at + 1 < len(listed) and len(widths) < MAX_WIDTH_ENTRIES:
            start = int(listed[at])
            following = _resolved(listed[at + 1])
            if isinstance(following, list):  # c [w1 w2 …]
                for offset, value in enumerate(following[:MAX_WIDTH_ENTRIES]):
                    widths[start + offset] = float(value)
                at += 2
            else:  # c_first c_last w
                last, value = int(following), float(listed[at + 2])
                for code in range(start, min(last, start + MAX_WIDTH_ENTRIES) + 1):
                    widths[code] = value
                at += 3
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        log.debug("composite font widths unreadable: %s", exc)
    return FontMetrics(two_byte=True, type3=False, widths=widths, default=default)


def _core_widths(base_font: str) -> tuple[dict[int, float], float] | None:
    """One of the 14 core fonts' widths by single-byte code (their standard Latin codes)."""
    try:
        from pypdf._codecs.core_font_metrics import CORE_FONT_METRICS
    except ImportError:  # pypdf's own table moved: estimate instead
        return None
    name = base_font.lstrip("/").split("+")[-1]
    metrics = CORE_FONT_METRICS.get(name)
    if metrics is None:
        return None
    by_character = metrics.character_widths
    default = float(by_character.get("default", ESTIMATED_WIDTH))
    widths = {
        code: float(by_character[chr(code)]) for code in range(256) if chr(code) in by_character
    }
    return widths, default


def _resolved(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value
