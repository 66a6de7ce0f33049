"""Printing results and errors the same way in every command."""

from __future__ import annotations

import json
import sys
from typing import Any

from agent.errors import KysoError


def print_json(data: Any) -> None:
    """Machine-readable output: UTF-8 JSON, Vietnamese kept as is."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


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
