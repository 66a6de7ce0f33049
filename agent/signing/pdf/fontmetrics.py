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
    descriptor = _resolved(font.get("/FontDescriptor"))
    try:
        first = int(font.get("/FirstChar", 0))
        listed = _resolved(font.get("/Widths")) or []
        for offset, value in enumerate(list(listed)[:MAX_WIDTH_ENTRIES]):
            widths[first + offset] = float(value)
        if "/Widths" in font:  # codes it does not list move the pen by /MissingWidth
            default = float(descriptor.get("/MissingWidth", 0)) if descriptor else 0.0
    except (TypeError, ValueError, AttributeError) as exc:
        log.debug("font widths unreadable: %s", exc)
        widths = {}
    names = _glyph_names(font)
    if "/Widths" not in font:
        core = _core_widths(str(font.get("/BaseFont", "")), names)
        if core is not None:
            widths, default = core
    # The viewer's own glyphs draw a font that carries no program: its names say what is drawn.
    # An embedded program may draw anything under any name or code: no leaders there.
    embedded = hasattr(descriptor, "get") and any(
        k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
    )
    leaders = {} if embedded or subtype == "/Type3" else names
    return FontMetrics(
        two_byte=False,
        type3=subtype == "/Type3",
        widths=widths,
        default=default,
        underscore=frozenset(c for c, n in leaders.items() if n == "/underscore"),
        full_stop=frozenset(c for c, n in leaders.items() if n == "/period"),
    )


def _glyph_names(font: Any) -> dict[int, str]:
    """The glyph name each single-byte code draws: the standard Latin names (ASCII codes
    share them in the Standard and WinAnsi encodings), replaced by the encoding's
    /Differences."""
    names = {code: _ASCII_NAMES[code] for code in _ASCII_NAMES}
    encoding = _resolved(font.get("/Encoding"))
    differences = _resolved(encoding.get("/Differences")) if hasattr(encoding, "get") else None
    code = 0
    for item in list(differences or [])[:MAX_WIDTH_ENTRIES]:
        item = _resolved(item)
        if isinstance(item, int) and not isinstance(item, bool):
            code = int(item)
        elif isinstance(item, str) and 0 <= code < 256:
            names[code] = str(item)
            code += 1
    return names


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


def _core_widths(base_font: str, names: dict[int, str]) -> tuple[dict[int, float], float] | None:
    """One of the 14 core fonts' widths by single-byte code, through the glyph each code draws
    (``names``); None for another font."""
    try:
        from pypdf._codecs.adobe_glyphs import adobe_glyphs
        from pypdf._codecs.core_font_metrics import CORE_FONT_METRICS
    except ImportError:  # pypdf's own tables moved: estimate instead
        return None
    metrics = CORE_FONT_METRICS.get(base_font.lstrip("/").split("+")[-1])
    if metrics is None:
        return None
    by_character = metrics.character_widths
    default = float(by_character.get("default", ESTIMATED_WIDTH))
    widths = {}
    for code in range(256):
        name = names.get(code)
        character = adobe_glyphs.get(name) if name else chr(code)
        if character is not None and character in by_character:
            widths[code] = float(by_character[character])
    return widths, default


# The glyph names of printable ASCII codes (Standard and WinAnsi encodings agree on them but
# for 0x27 and 0x60, whose widths hardly differ).
_ASCII_NAMES = {
    code: name
    for code, name in enumerate(
        [""] * 32
        + [
            "space",
            "exclam",
            "quotedbl",
            "numbersign",
            "dollar",
            "percent",
            "ampersand",
            "quotesingle",
            "parenleft",
            "parenright",
            "asterisk",
            "plus",
            "comma",
            "hyphen",
            "period",
            "slash",
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "colon",
            "semicolon",
            "less",
            "equal",
            "greater",
            "question",
            "at",
            "A",
            "B",
            "C",
            "D",
            "E",
            "F",
            "G",
            "H",
            "I",
            "J",
            "K",
            "L",
            "M",
            "N",
            "O",
            "P",
            "Q",
            "R",
            "S",
            "T",
            "U",
            "V",
            "W",
            "X",
            "Y",
            "Z",
            "bracketleft",
            "backslash",
            "bracketright",
            "asciicircum",
            "underscore",
            "grave",
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "h",
            "i",
            "j",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "q",
            "r",
            "s",
            "t",
            "u",
            "v",
            "w",
            "x",
            "y",
            "z",
            "braceleft",
            "bar",
            "braceright",
            "asciitilde",
        ]
    )
    if name
}
_ASCII_NAMES = {code: "/" + name for code, name in _ASCII_NAMES.items()}


def _resolved(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value
