"""Printing results and errors the same way in every command."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from agent.errors import KysoError
from agent.shown import escape_obeyed


def print_json(data: Any) -> None:
    """Machine-readable output: UTF-8 JSON, Vietnamese kept as is. A file name that is not
    valid Unicode (undecodable bytes, held as lone surrogates) is written as its JSON escape
    ("\\udcf4"): the output stays valid UTF-8 JSON whatever the locale."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def tolerant_streams() -> None:
    """Let stdout print any file name: a name with undecodable bytes must not end a run with
    UnicodeEncodeError after its files were signed. A strict stdout (a UTF-8 locale) writes
    such characters as \\udcf4; stderr already does; surrogateescape (C locale) is kept.

    A stream the process was started without (``>&-``: Python then has None there) writes
    to the null device: a command whose work is done must not fail on printing its report
    (a script would read "not signed" and sign again)."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


class InertText:
    """A text stream whose writes reach the terminal inert (:func:`agent.shown.escape_obeyed`), so a
    file name, a PDF field, a certificate subject or a token label cannot drive it."""

    def __init__(self, stream: Any) -> None:
        """Wrap ``stream``; everything but ``write`` is the stream's own."""
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with what a terminal would obey escaped."""
        return int(self._stream.write(escape_obeyed(text)))

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
