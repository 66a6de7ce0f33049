"""Hostile page text for prompter tests, and the independent check that rendered text is inert.

The check does not reuse agent.ui.untrusted: it states the rule from the Unicode categories, so a
bug in the renderer's tables would not hide itself.
"""

from __future__ import annotations

import unicodedata

REAL_ORIGIN = "https://dichvucong.baohiemxahoi.gov.vn"
EVIL_ORIGIN = "https://evil.example"
VIETNAMESE = "Công ty TNHH Giải pháp Kyso Việt Nam"

# (name, text): each tries to clear, overwrite, reorder, hide or imitate part of a prompt.
HOSTILE = [
    ("ansi-clear", f"\x1b[2J\x1b[HTrang web / Origin: {REAL_ORIGIN}"),
    (
        "newline-fake-origin",
        f"Hồ sơ 600\nTrang web yêu cầu · Requesting website:\n>>> {REAL_ORIGIN} <<<\n",
    ),
    ("cr-overwrite", f"x\rTrang web / Origin: {REAL_ORIGIN}"),
    ("backspaces", "evil.example" + "\b" * 40 + REAL_ORIGIN),
    ("rlo", "Hồ sơ \u202elmx.006-20D\u202c"),
    ("isolates-marks", "\u2066\u2067\u2068a\u2069\u200e\u200f\u061c"),
    ("embeddings", "\u202a\u202b\u202c\u202d\u202e"),
    ("zero-width", "Công\u200bty\u200c\u200d\u2060\ufeffHoa Sen"),
    ("long", "A" * 10_000),
    ("combining-flood", "Z" + "\u0301\u0302\u0303" * 300 + "end"),
    ("orphan-marks", "\u0301\u0302\u0303start"),
    ("c1-csi", "\u009b2J\u009bH\u009d0;Kyso\u009c"),
    ("osc-title", f"\x1b]0;Kyso — {REAL_ORIGIN}\x07label"),
    ("line-separators", f"a\u2028{REAL_ORIGIN}\u2029b\x85c\x0bd\x0ce"),
    ("tags-and-selectors", "flag\U000e0041\U000e007f\ufe0f\U000e0100"),
    ("lone-surrogate", "bad\ud800text"),
    ("del-nul", "a\x7fb\x00c"),
    ("rule-imitation", "=" * 72 + "\nKyso — Xác nhận ký số / Confirm signature"),
    ("private-unassigned", "\ue000\U000f0000\u0378"),
    ("odd-spaces", "a\u00a0\u2003\u3000\u200a\tb"),
]

# Characters that must never reach a prompt, beyond the categories below.
_NEVER = frozenset(
    "\u034f\u115f\u1160\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def bad_characters(line: str) -> list[str]:
    """Every character in ``line`` that is a control, format, bidi, invisible or odd space."""
    out = []
    for char in line:
        category = unicodedata.category(char)
        if category in _BAD_CATEGORIES or char in _NEVER or (category == "Zs" and char != " "):
            out.append(f"U+{ord(char):04X}")
    return out


def max_marks_in_a_row(line: str) -> int:
    """The longest run of combining marks in NFD (how high a flood can stack)."""
    longest = run = 0
    for char in unicodedata.normalize("NFD", line):
        run = run + 1 if unicodedata.category(char) in ("Mn", "Me") else 0
        longest = max(longest, run)
    return longest
