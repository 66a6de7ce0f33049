"""Which characters a prompt shows as a visible tag, and how wide text is once shown. Pure.

Shared by the dialog's renderer (agent.ui.untrusted), which tags them, and the summaries that
decide where a value is cut (agent.signing.xml.summary), which must count a tag's width: a
name padded with zero-width characters is short in characters but long on screen.
"""

from __future__ import annotations

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
