"""Printing results and errors the same way in every command."""

from __future__ import annotations

import json
import sys
from typing import Any

from agent.errors import KysoError


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


def print_error(error: KysoError, *, as_json: bool = False) -> None:
    """An error in both languages with what to do next (or as JSON on stdout with --json)."""
    if as_json:
        print_json({"ok": False, "error": error.to_dict()})
        return
    d = error.to_dict()
    sys.stderr.write(
        f"Lỗi [{d['code']}]: {d['message_vi']}\n  → {d['action_vi']}\n"
        f"Error [{d['code']}]: {d['message_en']}\n  → {d['action_en']}\n"
    )


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(lines)
