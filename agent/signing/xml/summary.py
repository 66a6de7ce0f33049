"""What a person sees before signing a dossier or an account request: a short, human summary.
Pure logic, no I/O."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import unicodedata

from lxml import etree

from agent.errors import KysoError
from agent.signing.consent import ConsentItem
from agent.signing.xml.profiles import (
    BHXH_FORMS,
    REQUEST_CHANGES_PATH,
    REQUEST_CODE_PATH,
    REQUEST_FIELD_LABELS,
    REQUEST_ORIGIN_PATH,
    REQUEST_ROOT,
    REQUEST_SUMMARIES,
    REQUEST_VALUES,
)
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


# Values are page-supplied text: one line each, and never long enough to push the rest of the
# dialog out of sight.
_MAX_VALUE = 160


def _one_line(text: str) -> str:
    # Controls and format characters (bidi overrides, zero-width) could reorder or hide what
    # the dialog shows: dropped (the UI sanitises too; this text is page-supplied).
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf") or c.isspace())
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_VALUE else flat[: _MAX_VALUE - 1] + "…"


def _values(root: etree._Element, path: str) -> str:
    """Every element at ``path`` (namespace-blind) joined with "; " (names hold commas), one
    line."""
    steps = "/".join(f"{{*}}{step}" for step in path.split("/"))
    found = [_one_line(e.text or "") for e in root.iterfind(steps)]
    return _one_line("; ".join(v for v in found if v))


def _local_time(text: str) -> str:
    """An ISO time as a person reads it, with its zone named; unreadable text as it is."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.utcoffset() is None:
        return when.strftime("%d/%m/%Y %H:%M:%S")
    zone = "giờ Việt Nam" if when.utcoffset() == dt.timedelta(hours=7) else when.strftime("UTC%z")
    return f"{when.strftime('%d/%m/%Y %H:%M:%S')} ({zone})"


def _changes(root: etree._Element) -> list[tuple[str, str]]:
    """(field in words, "old → new") for each child of <ThayDoi>."""
    steps = "/".join(f"{{*}}{step}" for step in REQUEST_CHANGES_PATH.split("/"))
    out = []
    for holder in root.iterfind(steps):
        for item in holder.iterchildren(etree.Element):
            name = etree.QName(item).localname
            old = _values(item, "GiaTriCu") or "(trống)"
            new = _values(item, "GiaTriMoi") or "(trống)"
            out.append((REQUEST_FIELD_LABELS.get(name, name), f"{old} → {new}"))
    return out


def summarize_request(root: etree._Element, document: bytes) -> ConsentItem:
    """An account request (:data:`REQUEST_ROOT`) in words, from the profiles' summary table:
    the sentence as the title, then its rows and each changed field as "old → new"."""
    code = _values(root, REQUEST_CODE_PATH)
    rule = REQUEST_SUMMARIES.get(code)
    digest = hashlib.sha256(document).hexdigest()
    label = "Mã băm SHA-256 của yêu cầu gửi ký / SHA-256 of the request sent for signing"
    if rule is None:
        # Never a vague "confirm": an unknown request says so, with what it contains.
        unknown_lines = [
            (lbl, _values(root, REQUEST_VALUES[key]))
            for lbl, key in (
                ("Đơn vị", "don_vi"),
                ("Mã số thuế", "mst"),
                ("Cổng giao dịch", "cong"),
            )
        ]
        return ConsentItem(
            title=f"Yêu cầu về tài khoản loại «{code or '(không ghi)'}» không có trong danh mục "
            "của Kyso: chỉ ký khi biết rõ yêu cầu này",
            lines=tuple((k, v) for k, v in unknown_lines if v),
            sha256=digest,
            sha256_label=label,
        )
    changes = _changes(root)
    values = {key: _values(root, path) or "…" for key, path in REQUEST_VALUES.items()}
    values["thoi_gian"] = _local_time(values["thoi_gian"])
    values["thay_doi"] = _one_line(", ".join(name for name, _ in changes)) or "…"
    lines: list[tuple[str, str]] = []
    for lbl, key in rule.lines:
        if key == "cong":  # changed fields go before the portal and the time
            lines.extend(changes)
            changes = []
        if values[key] != "…":
            lines.append((lbl, values[key]))
    lines.extend(changes)
    return ConsentItem(
        title=rule.sentence_vi.format_map(values),
        lines=tuple(lines),
        sha256=digest,
        sha256_label=label,
    )


def summarize_xml(document: bytes, *, origin: str | None = None) -> ConsentItem:
    """The consent-dialog summary of a dossier: procedure, forms, unit, MST, period, number of
    employee records (inline rows plus rows inside base64 form files) and the SHA-256 of the
    exact bytes; for an account request (see :func:`summarize_request`) the request in words.

    ``origin``, when given, is the page's origin: an account request written for another portal
    raises XML_REQUEST_ORIGIN_MISMATCH (a relaying site must not collect the signature).
    Raises XML_* errors for unsafe or malformed input."""
    root = parse_untrusted(document).getroot()
    kind = etree.QName(root).localname
    if kind == REQUEST_ROOT:
        stated = _values(root, REQUEST_ORIGIN_PATH)
        if origin is not None and stated.rstrip("/") != origin.rstrip("/"):
            raise KysoError(
                "XML_REQUEST_ORIGIN_MISMATCH", {"stated": stated or "(không ghi)", "origin": origin}
            )
        return summarize_request(root, document)
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
