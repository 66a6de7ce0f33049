"""What a person sees before signing a dossier: a short, human summary. Pure logic, no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib

from lxml import etree

from agent.errors import KysoError
from agent.signing.consent import ConsentItem
from agent.signing.xml.profiles import BHXH_FORMS
from agent.signing.xml.safe import parse_untrusted


def _text(root: etree._Element, local: str) -> str | None:
    found = root.find(f".//{{*}}{local}")
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _count_rows(root: etree._Element) -> int:
    return sum(1 for _ in root.iter("{*}NguoiLaoDong"))


def _form_files(root: etree._Element) -> tuple[list[str], int]:
    """Names of embedded form files and the employee rows inside them (base64 NoiDungFile)."""
    names: list[str] = []
    rows = 0
    for item in root.iter("{*}FileToKhai"):
        code = _text(item, "MaToKhai") or _text(item, "TenFile") or "?"
        names.append(code)
        content = _text(item, "NoiDungFile")
        if not content:
            continue
        try:
            inner = parse_untrusted(base64.b64decode("".join(content.split()), validate=True))
        except (binascii.Error, ValueError, KysoError):
            continue  # an unreadable attachment is the portal's check to report, not ours
        rows += _count_rows(inner.getroot())
    return names, rows


def summarize_xml(document: bytes) -> ConsentItem:
    """The consent-dialog summary of a dossier: procedure, forms, unit, MST, period, number of
    employee records (inline rows plus rows inside base64 form files) and the SHA-256 of the
    exact bytes. Raises XML_* errors for unsafe or malformed input."""
    root = parse_untrusted(document).getroot()
    kind = etree.QName(root).localname
    forms, embedded_rows = _form_files(root)
    # A BHXH form file: its root is the form code (ToKhai: Kyso's older test files) and it
    # carries the <Cky> the signature goes in.
    is_form = kind in BHXH_FORMS or root.find("{*}Cky") is not None
    form_code = (root.get("MaToKhai") or "") if kind == "ToKhai" else kind
    if is_form and form_code:
        forms.append(form_code)
    code = _text(root, "MaThuTuc")
    procedure = _text(root, "TenThuTuc")
    unit = _text(root, "TenDoiTuong") or _text(root, "TenNNT") or _text(root, "TenDonVi")
    mst = _text(root, "MaSoThue") or _text(root, "mst") or _text(root, "MST")
    period = _text(root, "KyKeKhai") or _text(root, "kyKKhai")
    rows = _count_rows(root) + embedded_rows
    if kind == "Hoso":
        title = f"Hồ sơ {code or ''} — {procedure or 'hồ sơ BHXH'}".replace("  ", " ")
    elif is_form:
        title = f"Tờ khai {form_code}".strip()
    elif kind == "HSoThueDTu":
        title = "Hồ sơ khai thuế điện tử"
    elif kind == "TBaoThueDTu":
        title = "Thông báo của cơ quan thuế"
    else:
        title = f"Tài liệu XML <{kind}>"
    if forms and not is_form:
        title += f" ({', '.join(forms)})"
    lines: list[tuple[str, str]] = []
    for label, value in (
        ("Thủ tục", f"{code} — {procedure}" if code and procedure else code or procedure),
        ("Tờ khai", ", ".join(forms) if forms else None),
        ("Đơn vị", unit),
        ("Mã số thuế", mst),
        ("Kỳ kê khai", period),
        ("Số lao động", str(rows) if rows else None),
        ("Dung lượng", f"{len(document):,} byte".replace(",", ".")),
    ):
        if value:
            lines.append((label, value))
    return ConsentItem(title=title, lines=tuple(lines), sha256=hashlib.sha256(document).hexdigest())
