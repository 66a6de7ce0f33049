"""What the user is shown before a signature. Pure functions: bytes in, consent texts out."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

from agent.errors import KysoError
from agent.ui.api import ConsentItem

if TYPE_CHECKING:
    from agent.signing.pdf import PdfFacts, Placement


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB ({n:,} byte)".replace(",", ".")
    if n >= 1024:
        return f"{n / 1024:.1f} KB ({n:,} byte)".replace(",", ".")
    return f"{n} byte"


def xml_item(document: bytes, label: str | None = None, origin: str | None = None) -> ConsentItem:
    """The dossier's human summary (procedure, forms, unit, MST, period, records, SHA-256), or
    an account request's action in words; ``origin`` is the requesting site, for requests that
    name the portal they are addressed to."""
    from agent.signing.xml.summary import summarize_xml

    item = summarize_xml(document, origin=origin)
    if label:
        # The page's name for it is a line of its own: put before (or into) the title, a long
        # label would push what Kyso read from the document out of the title's width.
        item = dataclasses.replace(item, lines=(*item.lines, _page_label(label)), page_label=label)
    return item


def _page_label(label: str) -> tuple[str, str]:
    """The page's own name for an item, shown as the page's words, never as a title."""
    return ("Trang web gọi là / the site calls it", label)


def data_item(
    data: bytes, *, detached: bool, label: str | None = None, origin: str | None = None
) -> ConsentItem:
    """Data to be signed as CMS: size, detached or not, and its SHA-256. Data that is an XML
    document Kyso can read (a dossier, an account request) is summarised as such, with the same
    checks (the request's portal, the unit's MST) as when it is signed as XML."""
    kind = "chữ ký tách rời / detached" if detached else "chữ ký đính kèm / attached"
    as_xml = _xml_summary(data, origin)
    if as_xml is not None:
        lines = [*as_xml.lines, ("Kích thước / size", _size(len(data))), ("Kiểu / kind", kind)]
        if label:
            lines.append(_page_label(label))
        return dataclasses.replace(
            as_xml,
            title=f"{as_xml.title} — ký dạng CMS/PKCS#7 / signed as CMS",
            lines=tuple(lines),
            sha256=hashlib.sha256(data).hexdigest(),
            page_label=label or "",
        )
    lines = [("Kích thước / size", _size(len(data))), ("Kiểu / kind", kind)]
    if label:
        lines.append(_page_label(label))
    return ConsentItem(
        "Dữ liệu cần ký (CMS/PKCS#7) / data to sign",
        tuple(lines),
        hashlib.sha256(data).hexdigest(),
        page_label=label or "",
    )


# A request written for another portal; a dossier whose fields the summary cannot read as the
# portal will, or with two signed parts.
_XML_REFUSALS_FOR_CMS = frozenset(
    {"XML_REQUEST_ORIGIN_MISMATCH", "XML_FIELD_AMBIGUOUS", "XML_CONTAINER_AMBIGUOUS"}
)


def _xml_summary(data: bytes, origin: str | None) -> ConsentItem | None:
    """The XML summary of CMS data that is a readable XML document; None for other data."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return None
    from agent.signing.xml.summary import summarize_xml

    try:
        return summarize_xml(data, origin=origin)
    except KysoError as exc:
        if exc.code in _XML_REFUSALS_FOR_CMS:
            raise  # refused however it is signed: shown as data it would escape the check
        return None  # not XML Kyso reads: shown as data


def digest_item(digest: bytes, hash_name: str, label: str | None = None) -> ConsentItem:
    """A hash computed by the page. Nobody can show what it stands for, so the title says so in
    both languages; the page's own label is only a line under it, never the title."""
    lines: list[tuple[str, str]] = [
        (
            "Cảnh báo / warning",
            "Trang web yêu cầu ký một giá trị băm. Không ai, kể cả Kyso, hiển thị được nội dung "
            "mà giá trị này đại diện: chữ ký có thể dùng cho bất cứ việc gì. / The site asks you "
            "to sign a hash. Nobody, Kyso included, can show what it stands for: the signature "
            "could be used for anything.",
        ),
        ("Giá trị băm / hash", f"{hash_name.upper()} {digest.hex()}"),
    ]
    if label:
        lines.append(_page_label(label))
    lines.append(
        (
            "Chỉ đồng ý khi / agree only if",
            "bạn đã biết chính xác trang này ký gì và tin trang này. / you know exactly what "
            "this site is signing and you trust it.",
        )
    )
    return ConsentItem(
        "Ký một giá trị băm không hiển thị được / sign a hash nobody can display",
        tuple(lines),
        digest.hex() if hash_name == "sha256" else "",
        page_label=label or "",
    )


def pdf_item(
    facts: PdfFacts,
    label: str | None,
    placement: Placement | None,
    existing_field: str | None = None,
    *,
    reason: str | None = None,
    location: str | None = None,
    certify: bool = False,
) -> ConsentItem:
    """A PDF: name, title, pages, where the visible signature goes, what the signature itself
    will say (reason, location, certification), who signed it already, risky content, and the
    SHA-256 of the file as it is now (before this signature)."""
    lines: list[tuple[str, str]] = []
    if label:
        lines.append(("Tên tệp / file", label))
    if facts.title:
        lines.append(("Tiêu đề / title", facts.title))
    lines.append(("Số trang / pages", str(facts.pages)))
    lines.append(("Kích thước / size", _size(facts.size)))
    if placement is not None:
        where = f"trang {placement.page} / page {placement.page}, {_corner(facts, placement)}"
    elif existing_field is not None:
        where = f"ô chữ ký «{existing_field}» / signature field “{existing_field}”"
    else:
        where = "không hiển thị / invisible"
    lines.append(("Chữ ký hiển thị / visible signature", where))
    # Everything the page writes into the signature is shown: a reader of the signed file sees it.
    if reason:
        lines.append(("Lý do ghi trong chữ ký / reason in the signature", reason))
    if location:
        lines.append(("Nơi ký ghi trong chữ ký / location in the signature", location))
    if certify:
        lines.append(
            (
                "Chữ ký chứng nhận / certification",
                "chữ ký này khoá tài liệu: mọi thay đổi sau đó, kể cả chữ ký khác, làm mất hiệu "
                "lực chứng nhận / this signature locks the document: any later change, another "
                "signature included, breaks the certification",
            )
        )
    if facts.signatures:
        signers = ", ".join(s.signer for s in facts.signatures)
        # The names come from certificates inside the file, not checked here: anyone can make
        # a certificate naming "Giám đốc". Said so, rather than shown as a verified fact.
        lines.append(
            (
                "Đã có chữ ký của / already signed by",
                f"{signers} (tên ghi trong chứng thư số, Kyso chưa kiểm tra / as named in their "
                "certificates, not checked by Kyso)",
            )
        )
    if facts.has_javascript:
        lines.append(("Cảnh báo / warning", "tệp có JavaScript / the file contains JavaScript"))
    if facts.has_embedded_files:
        lines.append(
            (
                "Cảnh báo / warning",
                "tệp có tệp đính kèm bên trong; chữ ký phủ cả chúng / the file carries "
                "embedded files, and the signature covers them too",
            )
        )
    return ConsentItem(
        "Tài liệu PDF / PDF document",
        tuple(lines),
        facts.sha256,
        sha256_label="SHA-256 của tệp trước khi ký / of the file before signing",
        page_label=label or "",
    )


def _corner(facts: PdfFacts, placement: Placement) -> str:
    """Which corner of the page as a reader sees it (after /Rotate, from the MediaBox's own
    origin): the same place the consent's preview shows."""
    frame = facts.page_frames.get(placement.page)
    if frame is not None:
        from agent.signing.pdf.preview import box_in_pixels

        left, upper, right_edge, lower = box_in_pixels(frame, placement.box, (1000, 1000))
        top = (upper + lower) / 2 < 500  # pixel rows grow downwards
        right = (left + right_edge) / 2 > 500
    else:
        width, height = facts.page_sizes.get(placement.page, (595.0, 842.0))
        x1, y1, x2, y2 = placement.box
        top = (y1 + y2) / 2 > height / 2
        right = (x1 + x2) / 2 > width / 2
    vi = f"góc {'trên' if top else 'dưới'} bên {'phải' if right else 'trái'}"
    en = f"{'top' if top else 'bottom'} {'right' if right else 'left'} corner"
    return f"{vi} / {en}"


def challenge_item(origin: str) -> ConsentItem:
    """Sign-in or account change on ``origin``."""
    return ConsentItem(
        f"Đăng nhập / xác nhận thay đổi tài khoản trên {origin}",
        (
            (
                "Việc ký / what is signed",
                "một mã ngẫu nhiên của trang, gắn với địa chỉ trang: chỉ để chứng minh bạn giữ "
                "chứng thư số này, không phải một tài liệu / a random code from the page, bound "
                "to its address: it only proves you hold this certificate, it is no document",
            ),
        ),
    )


SUMMARIES = {
    # A dossier, a form or an account request (its item title says which): "văn bản", not "hồ sơ".
    "sign.xml": ("Ký văn bản điện tử gửi tới {origin}", "Sign an electronic document for {origin}"),
    "sign.cms": ("Ký dữ liệu (CMS) cho {origin}", "Sign data (CMS) for {origin}"),
    "sign.pdf": ("Ký tài liệu PDF cho {origin}", "Sign a PDF document for {origin}"),
    "sign.hash": (
        "{origin} yêu cầu ký một giá trị băm mà không ai hiển thị được nội dung",
        "{origin} asks you to sign a hash whose content nobody can display",
    ),
    "sign.batch": ("Ký {count} tài liệu cho {origin}", "Sign {count} documents for {origin}"),
    "auth.challenge": (
        "Đăng nhập / xác nhận thay đổi tài khoản trên {origin}",
        "Sign in / confirm an account change on {origin}",
    ),
}


def summary(action: str, origin: str, count: int = 1) -> tuple[str, str]:
    """The one-sentence Vietnamese and English summary of an action."""
    vi, en = SUMMARIES[action]
    return vi.format(origin=origin, count=count), en.format(origin=origin, count=count)
