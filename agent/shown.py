"""Which characters a prompt shows as a visible tag, and how wide text is once shown. Pure.

Shared by the dialog's renderer (agent.ui.untrusted), which tags them, and the summaries that
decide where a value is cut (agent.signing.xml.summary), which must count a tag's width: a
name padded with zero-width characters is short in characters but long on screen.
"""

from __future__ import annotations

import re
import unicodedata

# Categories that never belong in a prompt: controls, format characters (bidi, zero-width, soft
# hyphen, tags), surrogates, private use, unassigned.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
MARK_CATEGORIES = frozenset({"Mn", "Me"})
# Invisible characters outside those categories (variation selectors and the grapheme joiner
# are marks; Hangul fillers are letters that draw nothing; U+2800 is a blank braille cell).
INVISIBLE = frozenset(
    [chr(c) for c in range(0xFE00, 0xFE10)]
    + [chr(c) for c in range(0xE0100, 0xE01F0)]
    + [chr(c) for c in range(0x180B, 0x1810)]
    + ["\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u17b4", "\u17b5"]
)


def tag(char: str) -> str:
    """The visible stand-in for an invisible or active character: plain ASCII, so every font
    and every terminal shows it (the control pictures such as ␛ are missing from common
    fonts and would show as an empty box)."""
    return f"<U+{ord(char):04X}>"


def is_tagged(char: str) -> bool:
    """Whether a prompt shows ``char`` as its :func:`tag`."""
    return unicodedata.category(char) in HIDDEN_CATEGORIES or char in INVISIBLE


def shown_width(char: str) -> int:
    """How many characters ``char`` takes once shown: its tag's length, else one (a combining
    mark counts one too: an upper bound, as the renderer may drop it)."""
    return len(tag(char)) if is_tagged(char) else 1


# What a terminal or an editor would obey rather than show: C0 controls but tab and line feed
# (ESC opens the sequences that clear the screen or retitle the window, CR rewrites the line),
# DEL, C1 controls, and the bidi and direction marks that reorder what is read (U+202E
# "...txt.exe"). Also what it would show as nothing: zero-width and other format characters, the
# line and paragraph separators, and the invisible letters above, so a signer or file name padded
# with them cannot pass for another. Written as the JSON escape \\uXXXX: visible on a terminal,
# and inside a JSON string the same character once parsed (json.dumps leaves C1, bidi and format
# characters raw).
_OBEYED = (
    *range(0x00, 0x09),
    *range(0x0B, 0x20),
    *range(0x7F, 0xA0),
    0x00AD,
    0x061C,
    0x180E,
    *range(0x200B, 0x2010),
    *range(0x2028, 0x202F),
    *range(0x2060, 0x2070),
    0xFEFF,
    *range(0xFFF9, 0xFFFC),
    0xE0001,
    *range(0xE0020, 0xE0080),
    *(ord(char) for char in INVISIBLE),
)


def _json_escape(code: int) -> str:
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # JSON spells these as a surrogate pair
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


_ESCAPES = {code: _json_escape(code) for code in _OBEYED}


def _ranges(codes: tuple[int, ...]) -> list[str]:
    """A regex class's parts for ``codes``, consecutive ones as one range: listed one by one,
    the 300 characters (astral ones among them) made every search scan them all, 5 us a log
    line of Vietnamese."""
    parts: list[str] = []
    ordered = sorted(set(codes))
    start = previous = ordered[0]
    for code in [*ordered[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        first, last = re.escape(chr(start)), re.escape(chr(previous))
        parts.append(first if start == previous else f"{first}-{last}")
        start = previous = code
    return parts


# str.translate with a dict costs ~90 us for a log line (the agent's logs pass here too): look
# first, translate only the rare text that holds such a character (~1 us).
_ANY_OBEYED = re.compile("[" + "".join(_ranges(_OBEYED)) + "]")


def escape_obeyed(text: str) -> str:
    """``text`` with what a terminal or an editor would obey, or show as nothing, written as its
    JSON escape (``\\u202e``): the CLI's streams (agent.cli.output.InertText) and the audit
    log's lines, which people read with ``tail`` and editors. JSON text stays valid and parses
    to the same value (these characters can only stand inside its strings)."""
    if _ANY_OBEYED.search(text):
        return text.translate(_ESCAPES)
    return text
