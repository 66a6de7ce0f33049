"""PDF attachments of a dossier (the scanned papers): limits, names, and the signature check.

Each attachment must be a PDF signed by the unit (PAdES, through the bridge's "Ký tệp đính
kèm"). The check uses the agent library's ``verify_pdf`` against the portal's trust store (the
one the XML check uses): every signature in the file valid, the newest one covering the whole
file (only validation data may follow it), and the newest one made with a certificate of the
unit that files the dossier (MST). Earlier signatures may be anyone's — a scanned contract can
carry the other party's signature — but they must be valid too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from agent.errors import KysoError
from agent.signing.pdf.active import (
    CHANGES_VIEW,
    EMBEDDED_FILES,
    FIELDS_REDRAWN,
    INCOMPLETE,
    JAVASCRIPT,
    LAUNCH,
    LAYERS,
    NETWORK,
    OTHER_FILES,
    PRINT_DIFFERS,
    XFA,
)
from agent.signing.pdf.bounded import verify_pdf_bounded
from agent.signing.pdf.inspect import PdfFacts, inspect_pdf
from agent.signing.pdf.verify import PdfSignatureReport
from agent.signing.trust import TrustStore
from portal_stub.errors import PortalError

log = logging.getLogger(__name__)

MAX_NAME = 120
# What may follow the newest signature: nothing, or validation data (DSS, document timestamps).
_AFTER_LAST = ("none", "lta_updates")
# The library's own text stays in the error's cause ("Chi tiết kỹ thuật" on the page).
_PDF_PROBLEMS = {
    "PDF_MALFORMED": "tệp bị hỏng hoặc không phải tệp PDF",
    "PDF_ENCRYPTED": "tệp được đặt mật khẩu hoặc mã hóa",
    "PDF_VERIFY_TIMEOUT": "cấu trúc tệp bất thường, kiểm tra chữ ký quá lâu",
}
_CHANGES = {
    "none": "nội dung thêm vào sau chữ ký",
    "form_filling": "điền biểu mẫu",
    "annotations": "thêm chú thích",
}


@dataclass(frozen=True)
class Attachment:
    """One uploaded file before the check: its cleaned name and bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class AttachmentResult:
    """What the check found in one attachment (shown on the result page and the receipt)."""

    name: str
    sha256: str
    size: int
    pages: int
    title: str
    signer: str
    signer_mst: str | None
    signing_time: str | None
    level: str
    signatures: int

    def to_json(self) -> dict[str, Any]:
        """API form."""
        return dict(self.__dict__)


def clean_name(raw: str, position: int) -> str:
    """A file name fit to show: the last path part, NFC, no control or format characters,
    at most MAX_NAME characters; ``tep-dinh-kem-N.pdf`` when nothing is left. The name is
    only ever shown (autoescaped), never used as a path."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    # Category C: controls, and format characters such as U+202E, which would show
    # "fdp.exe" as "exe.pdf".
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    if len(name) > MAX_NAME:
        _stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot else ""
        name = name[: MAX_NAME - len(ext) - 2] + "…" + (f".{ext}" if ext else "")
    return name or f"tep-dinh-kem-{position}.pdf"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987): a
    Vietnamese file name survives, and no quote or line break from it reaches the header."""
    fallback = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in name)
    return (
        f"attachment; filename=\"{fallback or 'tep.pdf'}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


def check_limits(files: list[Attachment], *, max_files: int, max_bytes: int) -> None:
    """E415 when there are too many files or one is too large; E416 for an empty one or the
    same file twice."""
    limits = {"max_files": max_files, "limit_mb": max_bytes // (1024 * 1024)}
    if len(files) > max_files:
        raise PortalError(
            "ATTACHMENT_LIMIT", {"detail": f"{len(files)} tệp (tối đa {max_files})", **limits}
        )
    seen: dict[str, str] = {}
    for item in files:
        if len(item.data) > max_bytes:
            size_mb = len(item.data) / (1024 * 1024)
            raise PortalError(
                "ATTACHMENT_LIMIT",
                {"detail": f"tệp «{item.name}» nặng {size_mb:.1f} MB", "name": item.name, **limits},
            )
        if not item.data:
            raise PortalError("ATTACHMENT_INVALID", {"name": item.name, "detail": "tệp rỗng"})
        digest = hashlib.sha256(item.data).hexdigest()
        if digest in seen:
            raise PortalError(
                "ATTACHMENT_INVALID",
                {"name": item.name, "detail": f"trùng với tệp «{seen[digest]}» đã đính kèm"},
            )
        seen[digest] = item.name


# agent.signing.pdf.active's kinds, named in the refusal.
_ACTIVE_NAMES = {
    JAVASCRIPT: "JavaScript",
    LAUNCH: "lệnh chạy chương trình (launch)",
    NETWORK: "lệnh gửi dữ liệu hay kết nối mạng",
    OTHER_FILES: "liên kết mở tệp khác",
    EMBEDDED_FILES: "tệp nhúng",
    XFA: "biểu mẫu XFA",
    CHANGES_VIEW: "lệnh tự đổi nội dung hiển thị khi mở (đặt lại biểu mẫu, ẩn/hiện lớp, phát media)",
    LAYERS: "lớp nội dung (layer) có thể ẩn/hiện khác nhau khi xem và khi in",
    PRINT_DIFFERS: "phần chỉ hiện trên màn hình mà không in (hoặc ngược lại)",
    FIELDS_REDRAWN: "ô biểu mẫu do trình đọc tự vẽ lại (NeedAppearances)",
    INCOMPLETE: "cấu trúc không kiểm tra hết được",
}


def _facts(item: Attachment) -> PdfFacts:
    try:
        facts = inspect_pdf(item.data)
    except KysoError as exc:
        detail = _PDF_PROBLEMS.get(exc.code, exc.message_vi)
        raise PortalError(
            "ATTACHMENT_INVALID", {"name": item.name, "detail": detail}, cause=exc
        ) from exc
    # Every kind of active content refuses the file, and so does one Kyso could not check
    # completely: a scanned paper has none, whatever else it holds is not what was scanned.
    if facts.active_content:
        detail = ", ".join(_ACTIVE_NAMES[kind] for kind in facts.active_content)
        raise PortalError("ATTACHMENT_ACTIVE_CONTENT", {"name": item.name, "detail": detail})
    return facts


# A dossier's attachment is a few pages: seconds at most. The employer waits on the page.
VERIFY_SECONDS = 60.0


def _reports(item: Attachment, trust: TrustStore) -> list[PdfSignatureReport]:
    try:
        # In a child process, ended at the deadline: a small hostile upload can keep pyHanko's
        # analysis busy for hours (PDF_VERIFY_TIMEOUT, the dossier is refused).
        return verify_pdf_bounded(item.data, trust, seconds=VERIFY_SECONDS)
    except KysoError as exc:
        if exc.code == "NOT_SIGNED":
            raise PortalError("ATTACHMENT_NOT_SIGNED", {"name": item.name}, cause=exc) from exc
        detail = _PDF_PROBLEMS.get(exc.code, exc.message_vi)
        raise PortalError(
            "ATTACHMENT_INVALID", {"name": item.name, "detail": detail}, cause=exc
        ) from exc
    except Exception as exc:  # pyHanko on a hostile file: the user gets a code, the log the trace
        log.warning("attachment %r: verification failed", item.name, exc_info=True)
        raise PortalError(
            "ATTACHMENT_SIGNATURE_INVALID",
            {"name": item.name, "detail": f"không đọc được chữ ký ({type(exc).__name__})"},
        ) from exc


def _problem(report: PdfSignatureReport) -> str:
    if not report.intact:
        return f"chữ ký «{report.field_name}» của {report.signer}: nội dung đã bị sửa sau khi ký"
    if not report.trusted:
        return (
            f"chữ ký «{report.field_name}» của {report.signer}: chứng thư số không được tin cậy, "
            "đã hết hạn hoặc đã bị thu hồi"
        )
    return f"chữ ký «{report.field_name}» của {report.signer}: tệp bị sửa sau khi ký"


def check_attachment(item: Attachment, trust: TrustStore, *, mst: str) -> AttachmentResult:
    """Every check of one attachment (blocking: run it in a thread); raises the first
    :class:`PortalError`."""
    facts = _facts(item)
    reports = _reports(item, trust)
    *earlier, newest = reports
    for report in reports:
        if not (report.intact and report.trusted):
            raise PortalError(
                "ATTACHMENT_SIGNATURE_INVALID", {"name": item.name, "detail": _problem(report)}
            )
    for report in earlier:
        if not report.valid:  # changed after it beyond later signatures in their own fields
            raise PortalError(
                "ATTACHMENT_SIGNATURE_INVALID", {"name": item.name, "detail": _problem(report)}
            )
    whole = newest.covers_whole_file or newest.modification_level == "lta_updates"
    if not whole or newest.modification_level not in _AFTER_LAST:
        change = _CHANGES.get(newest.modification_level, "sửa nội dung")
        raise PortalError("ATTACHMENT_CHANGED", {"name": item.name, "detail": change})
    if newest.mst != mst:
        raise PortalError(
            "ATTACHMENT_UNIT_MISMATCH",
            {
                "name": item.name,
                "signer": newest.signer,
                "cert_mst": newest.mst or "không có",
                "mst": mst,
            },
        )
    return AttachmentResult(
        name=item.name,
        sha256=facts.sha256,
        size=facts.size,
        pages=facts.pages,
        title=facts.title,
        signer=newest.signer,
        signer_mst=newest.mst,
        signing_time=newest.signing_time,
        level=str(newest.level),
        signatures=len(reports),
    )


async def check_attachments(
    files: list[Attachment],
    trust: TrustStore,
    *,
    mst: str,
    max_files: int,
    max_bytes: int,
) -> list[AttachmentResult]:
    """Limits first (cheap), then each file off the event loop, in order: the first failure
    is the one reported."""
    check_limits(files, max_files=max_files, max_bytes=max_bytes)
    results = []
    for item in files:
        results.append(await asyncio.to_thread(check_attachment, item, trust, mst=mst))
    return results
