"""``kyso-agent verify-xml``: a signed dossier checked against the roots (and CRLs) given."""

from __future__ import annotations

import argparse

from agent.cli.document_commands import read_whole, require_trust
from agent.cli.judged_time import judged_lines, refusal_time_lines
from agent.cli.output import one_line, print_json
from agent.errors import KysoError
from agent.signing.xml import verify_xml


def run_verify(args: argparse.Namespace) -> int:
    """Verify one file; exit 0 when valid and trusted, 1 otherwise."""
    from agent.signing.trust import TrustStore

    data = read_whole(args.file)
    require_trust(args.trust)
    trust = TrustStore.from_files(args.trust, args.crl)
    try:
        result = verify_xml(data, trust, profile=args.profile)
    except KysoError as exc:
        if args.json:
            print_json({"ok": False, "file": str(args.file), "error": exc.to_dict()})
        else:
            print(_refusal_text(exc))
            if "validated_at" in exc.details:  # when the certificate was judged, and why then
                print(refusal_time_lines(exc))
        return 1
    if args.json:
        print_json({"file": str(args.file), **result.to_json()})
    else:
        s = result.signer
        ident = f"MST:{s.mst}" if s.mst else f"CCCD:{s.cccd}" if s.cccd else ""
        signer = one_line(f"{s.subject_display} {ident}")
        when = result.signing_time.isoformat() if result.signing_time else None
        judged = result.validated_at.isoformat() if result.validated_at else None
        print(
            f"HỢP LỆ / VALID: {one_line(args.file)}\n  Người ký / signer: {signer}\n"
            f"{judged_lines(when, judged, result.validated_at_source)}\n"
            f"  Kiểu chữ ký / signature shape: {result.shape.vi} / {result.shape.en}"
        )
        if result.timestamp is not None:
            print(
                f"  Dấu thời gian / timestamp: {result.timestamp.gen_time.isoformat()} "
                f"— {one_line(result.timestamp.tsa_name)} (đã kiểm tra / checked)"
            )
    return 0


def _refusal_text(exc: KysoError) -> str:
    """Why the file is not valid, in both languages, with what to do."""
    d = {key: one_line(value) for key, value in exc.to_dict().items() if key != "details"}
    lines = [
        f"KHÔNG HỢP LỆ / INVALID [{d['code']}]: {d['message_vi']}",
        f"  {d['message_en']}",
        f"  → {d['action_vi']}",
        f"  → {d['action_en']}",
    ]
    if exc.details.get("signer"):
        lines.append(f"  Người ký / signer: {one_line(exc.details['signer'])}")
    if exc.code == "SIGNATURE_INVALID" and exc.details.get("detail"):
        lines.append(f"  Chi tiết / detail: {one_line(exc.details['detail'])}")
    return "\n".join(lines)
