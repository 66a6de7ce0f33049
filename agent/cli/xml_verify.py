"""``kyso-agent verify-xml``: a signed dossier checked against the roots (and CRLs) given."""

from __future__ import annotations

import argparse

from agent.cli.document_commands import read_whole, require_trust
from agent.cli.judged_time import judged_lines, refusal_time_lines
from agent.cli.output import one_line, print_json
from agent.errors import KysoError
from agent.signing.xml import verify_xml
from agent.signing.xml.verify import XmlVerification


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
    warning = _unit_warning(result)
    if args.json:
        warnings = [warning.to_dict()] if warning is not None else []
        print_json({"file": str(args.file), **result.to_json(), "warnings": warnings})
    else:
        signer = one_line(_who(result))
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
        for other in result.other_signatures:  # each judged like the first
            covers = ", ".join(r or "(cả tệp / whole file)" for r in other.references[:2])
            print(
                f"  Cũng ký (hợp lệ) / also signed (valid): {one_line(_who(other))} "
                f"— phần ký / covers: {one_line(covers)}"
            )
        if warning is not None:
            print(_warning_text(warning))
    return 0


def _who(result: XmlVerification) -> str:
    s = result.signer
    ident = f"MST:{s.mst}" if s.mst else f"CCCD:{s.cccd}" if s.cccd else ""
    return f"{s.subject_display} {ident}"


def _unit_warning(result: XmlVerification) -> KysoError | None:
    """MST_MISMATCH when the signed content names another unit's tax code than the signer's
    certificate (read from the bytes the signature covers, never the file around them): the
    signature is sound, but the BHXH and tax portals refuse such a dossier."""
    from agent.signing.consent import mst_mismatch
    from agent.signing.xml.summary import summarize_xml

    if not result.covered_c14n or not result.signer.mst:
        return None
    try:
        item = summarize_xml(result.covered_c14n)
    except KysoError:  # content the summary cannot read names no unit: nothing to compare
        return None
    other = mst_mismatch(result.signer.mst, (item,))
    if other is None:
        return None
    return KysoError("MST_MISMATCH", {"document_mst": other, "certificate_mst": result.signer.mst})


def _warning_text(warning: KysoError) -> str:
    """The warning under a valid verdict, in both languages, with what it means."""
    d = {key: one_line(value) for key, value in warning.to_dict().items() if key != "details"}
    return "\n".join(
        [
            f"  CẢNH BÁO / WARNING [{d['code']}]: {d['message_vi']}",
            f"  {d['message_en']}",
            "  → Chữ ký đúng, nhưng cổng BHXH và cổng thuế từ chối hồ sơ ký bằng chứng thư của "
            "đơn vị khác: đề nghị đơn vị trên hồ sơ ký bằng chứng thư của chính mình.",
            "  → The signature is sound, but the BHXH and tax portals refuse a dossier signed "
            "with another unit's certificate: ask the unit named in it to sign with its own.",
        ]
    )


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
