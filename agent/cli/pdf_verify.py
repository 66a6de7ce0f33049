"""``kyso-agent verify-pdf``: every signature in a PDF, checked against the roots given."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator

from agent.cli.document_commands import PDF_VERIFY_MAX_BYTES, read_whole, require_trust
from agent.cli.output import one_line, print_json


def vietnam_time(iso: str) -> str:
    """An ISO 8601 instant as people in Vietnam read it, labelled."""
    import datetime as dt

    from agent.signing.pdf.sign import VIETNAM

    local = dt.datetime.fromisoformat(iso).astimezone(VIETNAM)
    return f"{local:%d/%m/%Y %H:%M:%S} (giờ Việt Nam, UTC+7)"


class _DemoteToDebug(logging.Filter):
    """pyHanko's WARNING/ERROR records become DEBUG ones, shown only when DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("pyhanko") or not (
            logging.DEBUG < record.levelno < logging.CRITICAL
        ):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


@contextlib.contextmanager
def pyhanko_warnings_at_debug() -> Iterator[None]:
    """While verifying, pyHanko's logs of each refused path (a traceback as a WARNING) are
    debug output (``-v``): the verdict already names the problem, with its code."""
    demote = _DemoteToDebug()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(demote)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(demote)


async def run_verify_pdf(args: argparse.Namespace) -> int:
    """Verify every signature; exit 2 when any is not valid."""
    from agent.signing.pdf.bounded import verify_pdf_bounded_async
    from agent.signing.trust import TrustStore

    require_trust(args.trust)
    trust = TrustStore.from_files(
        args.trust, args.crl, revocation_mode="soft-fail" if args.no_revocation else "hard-fail"
    )
    document = read_whole(args.file, max_bytes=PDF_VERIFY_MAX_BYTES)
    with pyhanko_warnings_at_debug():
        # In a child process stopped at the deadline (PDF_VERIFY_TIMEOUT): a small hostile
        # file can keep pyHanko's analysis busy for hours. Awaited on this loop, not in a
        # thread: the process stays single-threaded (the child is a plain fork) and Ctrl-C
        # ends the child at once.
        reports = await verify_pdf_bounded_async(document, trust, seconds=args.timeout)
    ok = all(r.valid for r in reports)
    if args.json:
        print_json({"ok": ok, "signatures": [r.to_json() for r in reports]})
        return 0 if ok else 2
    for number, r in enumerate(reports, 1):
        verdict = "HỢP LỆ / VALID" if r.valid else "KHÔNG HỢP LỆ / NOT VALID"
        print(f"{number}. {one_line(r.field_name)}: {verdict} — {r.level}")
        signer = one_line(r.signer) + (f" — MST {one_line(r.mst)}" if r.mst else "")
        print(f"   Người ký / signer: {signer}")
        if r.signing_time:
            source = " — dấu thời gian / timestamp" if r.timestamped else ""
            print(f"   Thời điểm ký / signed at: {vietnam_time(r.signing_time)}{source}")
        scope = (
            "toàn bộ tệp / the whole file"
            if r.covers_whole_file
            else ("một phiên bản trước / an earlier revision")
        )
        print(f"   Phạm vi / covers: {scope}")
        if r.problem:
            print(f"   Vấn đề: {one_line(r.problem_vi or r.problem)}")
            print(f"   Problem: {one_line(r.problem)}")
            if r.action_vi and r.action_en:
                print(f"   → {r.action_vi}\n   → {r.action_en}")
    return 0 if ok else 2
