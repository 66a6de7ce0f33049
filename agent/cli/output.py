"""Printing results and errors the same way in every command."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from agent.errors import KysoError
from agent.shown import INVISIBLE


def print_json(data: Any) -> None:
    """Machine-readable output: UTF-8 JSON, Vietnamese kept as is. A file name that is not
    valid Unicode (undecodable bytes, held as lone surrogates) is written as its JSON escape
    ("\\udcf4"): the output stays valid UTF-8 JSON whatever the locale."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def tolerant_streams() -> None:
    """Let stdout print any file name: a name with undecodable bytes must not end a run with
    UnicodeEncodeError after its files were signed. A strict stdout (a UTF-8 locale) writes
    such characters as \\udcf4; stderr already does; surrogateescape (C locale) is kept."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


# What a terminal would obey rather than show: C0 controls but tab and line feed (ESC opens
# the sequences that clear the screen or retitle the window, CR rewrites the line), DEL, C1
# controls, and the bidi and direction marks that reorder what is read (U+202E "...txt.exe").
# Also what it would show as nothing: zero-width and other format characters, the line and
# paragraph separators, and the invisible letters the dialogs tag (agent.shown), so a signer or
# file name padded with them cannot pass for another. Written as the JSON escape \\uXXXX:
# visible on a terminal, and inside a JSON string the same character once parsed (json.dumps
# leaves C1, bidi and format characters raw).
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


_INERT = {code: _json_escape(code) for code in _OBEYED}
# str.translate with a dict costs ~90 us for a log line (the agent's logs pass here too): look
# first, translate only the rare text that holds such a character (~1 us).
_ANY_OBEYED = re.compile("[" + "".join(re.escape(chr(code)) for code in _OBEYED) + "]")


class InertText:
    """A text stream whose writes reach the terminal inert (:data:`_OBEYED` escaped), so a
    file name, a PDF field, a certificate subject or a token label cannot drive it."""

    def __init__(self, stream: Any) -> None:
        """Wrap ``stream``; everything but ``write`` is the stream's own."""
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with what a terminal would obey escaped."""
        if _ANY_OBEYED.search(text):
            text = text.translate(_INERT)
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def inert_streams() -> Iterator[None]:
    """stdout and stderr as :class:`InertText` for the block (a command's whole run), then
    the streams that were there before."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = InertText(sys.stdout), InertText(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def one_line(text: object) -> str:
    """``text`` for one line of a report: a line feed (in a file name, or a message quoting
    one) shown as \\n, so a crafted name cannot print a report line of its own. Carriage
    returns and the other controls are :class:`InertText`'s."""
    return str(text).replace("\n", "\\n")


def print_error(error: KysoError, *, as_json: bool = False) -> None:
    """An error in both languages with what to do next (or as JSON on stdout with --json)."""
    if as_json:
        print_json({"ok": False, "error": error.to_dict()})
        return
    d = {key: one_line(value) for key, value in error.to_dict().items() if key != "details"}
    sys.stderr.write(
        f"Lỗi [{d['code']}]: {d['message_vi']}\n  → {d['action_vi']}\n"
        f"Error [{d['code']}]: {d['message_en']}\n  → {d['action_en']}\n"
    )


# A table cell's width at most: a provider's free text or a long subject must not push every
# other row off the screen.
CELL_LIMIT = 100


def cell(value: object) -> str:
    """``value`` as one table cell: one line (:func:`one_line`), cut at :data:`CELL_LIMIT`."""
    text = one_line(value)
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table; every cell one line (a token label, a subject or a remote
    provider's text holding a line feed cannot print a row of its own)."""
    shown = [[cell(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(c) for c in col) for col in zip(*shown, strict=False)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in shown]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def internal_error(exc: Exception) -> KysoError:
    """INTERNAL_ERROR for a fault Kyso did not foresee: its kind and (cut short) its message,
    instead of a traceback; ``-v`` logs the traceback."""
    detail = f"{type(exc).__name__}: {exc}"
    return KysoError("INTERNAL_ERROR", {"detail": detail[:200]})
