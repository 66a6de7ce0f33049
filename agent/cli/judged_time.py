"""What verify-xml and verify-cms say about time: the signing time a signature claims (the
signer's word, never proof) and when its certificate was judged, and why then."""

from __future__ import annotations

import sys

from agent.cli.output import print_error
from agent.errors import KysoError
from agent.signing.timestamps import source_text


def judged_lines(signing_time: str | None, validated_at: str | None, source: str | None) -> str:
    """The signing time a signature claims and when its certificate was judged (and why
    then), in both languages: two lines, indented like the verifiers' other lines."""
    vi, en = source_text(source or "")
    claimed = signing_time or "không ghi / not stated"
    return (
        "  Thời điểm ký (người ký tự ghi, không phải bằng chứng) / signing time (the signer's "
        f"claim, not proof): {claimed}\n"
        f"  Chứng thư được kiểm tra tại / certificate judged at: {validated_at} ({vi} / {en})"
    )


def refusal_time_lines(error: KysoError) -> str:
    """For a signer's certificate refused at the time it was judged (its details carry
    ``validated_at``): that time and why then, the signing time claimed, and for an expiry
    without a timestamp, that one would have kept the signature valid."""
    d = error.details
    lines = [
        judged_lines(d.get("signing_time"), d.get("validated_at"), d.get("validated_at_source"))
    ]
    if error.code == "CERT_EXPIRED" and d.get("validated_at_source") == "now":
        lines.append(
            "  Nếu chữ ký có dấu thời gian lấy khi chứng thư còn hạn, chữ ký vẫn hợp lệ / a "
            "signature timestamp taken while the certificate was valid would have kept it valid"
        )
    return "\n".join(lines)


def print_judged_refusal(error: KysoError) -> None:
    """The error (:func:`agent.cli.output.print_error`), then :func:`refusal_time_lines`, on
    stderr like the error."""
    print_error(error)
    sys.stderr.write(refusal_time_lines(error) + "\n")
