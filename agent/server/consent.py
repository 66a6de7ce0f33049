"""What the user is shown before a signature. Pure functions: bytes in, consent texts out."""

from __future__ import annotations

import hashlib

from agent.ui.api import ConsentItem


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB ({n:,} byte)".replace(",", ".")
    if n >= 1024:
        return f"{n / 1024:.1f} KB ({n:,} byte)".replace(",", ".")
    return f"{n} byte"


def xml_item(document: bytes, label: str | None = None) -> ConsentItem:
    """The dossier's human summary (procedure, forms, unit, MST, period, records, SHA-256)."""
    try:
        from agent.signing.xml.summary import summarize_xml
    except ImportError:  # the XML summary ships with the XML signer; degrade to the hash
        summarize_xml = None
    if summarize_xml is not None:
        item = summarize_xml(document)
        if label:
            item = ConsentItem(f"{label} — {item.title}", item.lines, item.sha256)
        return item
    return ConsentItem(
        label or "Tài liệu XML / XML document",
        (("Kích thước / size", _size(len(document))),),
        hashlib.sha256(document).hexdigest(),
    )


def data_item(data: bytes, *, detached: bool, label: str | None = None) -> ConsentItem:
    """Data to be signed as CMS: size, detached or not, and its SHA-256."""
    kind = "chữ ký tách rời / detached" if detached else "chữ ký đính kèm / attached"
    return ConsentItem(
        label or "Dữ liệu cần ký (CMS/PKCS#7) / data to sign",
        (("Kích thước / size", _size(len(data))), ("Kiểu / kind", kind)),
        hashlib.sha256(data).hexdigest(),
    )


def digest_item(digest: bytes, hash_name: str, label: str | None = None) -> ConsentItem:
    """A hash computed by the page: Kyso cannot show the content, so it says so plainly."""
    return ConsentItem(
        label or f"Giá trị băm {hash_name.upper()} do trang web tính / a hash computed by the page",
        (
            ("Giá trị băm / hash", digest.hex()),
            (
                "Lưu ý / note",
                "Kyso không xem được nội dung gốc; chỉ đồng ý nếu bạn tin trang này. / "
                "Kyso cannot see the original content; agree only if you trust this site.",
            ),
        ),
        digest.hex() if hash_name == "sha256" else "",
    )


def challenge_item(origin: str) -> ConsentItem:
    """Sign-in or account change on ``origin``."""
    return ConsentItem(
        f"Đăng nhập / xác nhận thay đổi tài khoản trên {origin}",
        (("English", f"Sign in / confirm an account change on {origin}"),),
    )


SUMMARIES = {
    "sign.xml": ("Ký hồ sơ điện tử gửi tới {origin}", "Sign an electronic dossier for {origin}"),
    "sign.cms": ("Ký dữ liệu (CMS) cho {origin}", "Sign data (CMS) for {origin}"),
    "sign.hash": ("Ký một giá trị băm cho {origin}", "Sign a hash for {origin}"),
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
