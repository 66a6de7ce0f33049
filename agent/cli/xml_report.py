"""sign-xml's report: every file's outcome in the order given, in words or as --json, and the
exit status it means (1 when any file failed)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.cli.document_commands import failed_entry
from agent.cli.output import one_line, print_json
from agent.errors import KysoError


def in_order(
    results: list[dict[str, Any]], files: list[Path], missing: KysoError | None = None
) -> list[dict[str, Any]]:
    """``results`` in the order the files were given; a file without an outcome (the run was
    interrupted) gets ``missing``'s."""
    by_file: dict[str, dict[str, Any]] = {}
    for entry in results:
        by_file.setdefault(entry["file"], entry)
    ordered = []
    for source in files:
        found = by_file.get(str(source))
        if found is None and missing is not None:
            found = failed_entry(source, missing)
        if found is not None:
            ordered.append(found)
    return ordered


def print_report(
    results: list[dict[str, Any]],
    args: argparse.Namespace,
    *,
    interrupted: bool = False,
    revocation: dict[str, str] | None = None,
) -> int:
    """Print the outcomes (``args.json``: one JSON object, with the certificate's
    ``revocation`` status when it was checked); the exit status."""
    failed = [r for r in results if not r["ok"]]
    if args.json:
        report: dict[str, Any] = {
            "ok": not failed,
            "signed": len(results) - len(failed),
            "failed": len(failed),
            "results": results,
        }
        if revocation is not None:
            report["revocation"] = revocation
        if interrupted:
            report["interrupted"] = True
        print_json(report)
    else:
        for r in results:
            if r["ok"]:
                extra = (
                    " (bản chưa ký đã xóa / unsigned original removed)"
                    if r["removed_unsigned"]
                    else ""
                )
                kept = r.get("original_kept")
                if kept:  # removal asked for and not done
                    extra += (
                        f"\n    ⚠ bản chưa ký vẫn còn: {one_line(kept['vi'])}"
                        f"\n    ⚠ the unsigned original is still there: {one_line(kept['en'])}"
                    )
                print(f"ĐÃ KÝ / signed: {one_line(r['file'])} → {one_line(r['output'])}{extra}")
            else:
                e = {key: one_line(value) for key, value in r["error"].items()}
                print(
                    f"LỖI / failed: {one_line(r['file'])}: [{e['code']}] {e['message_vi']} / {e['message_en']}\n"
                    f"    → {e['action_vi']}"
                )
        print(
            f"Tổng / total: {len(results) - len(failed)} đã ký / signed, {len(failed)} lỗi / failed."
        )
    return 1 if failed else 0
