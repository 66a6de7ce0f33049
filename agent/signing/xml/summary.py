"""What a person sees before signing a dossier or an account request: a short, human summary.
Pure logic, no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata

from lxml import etree

from agent.errors import KysoError
from agent.signing.consent import ConsentItem
from agent.signing.xml.forms import EmbeddedForms, dossier_value, embedded_forms, form_code
from agent.signing.xml.people import ROWS_SHOWN, people_lines
from agent.signing.xml.procedures import BHXH_PROCEDURES
from agent.signing.xml.profiles import (
    BHXH_FORMS,
    PROFILES,
    REQUEST_CHANGES_PATH,
    REQUEST_CODE_PATH,
    REQUEST_FIELD_LABELS,
    REQUEST_ORIGIN_PATH,
    REQUEST_ROOT,
    REQUEST_SUMMARIES,
    REQUEST_VALUES,
    SUMMARY_PATHS,
    SummaryPaths,
)
from agent.signing.xml.reading import (
    ambiguous,
    elements_at,
    field_value,
    one_line,
    raw_values,
    rows_at,
    values_at,
)
from agent.signing.xml.safe import parse_untrusted
from agent.signing.xml.tax import declaration_code, tax_lines

__all__ = ["ROWS_SHOWN", "summarize_request", "summarize_xml"]


def _covered_part(root: etree._Element) -> etree._Element | None:
    """What the signature will cover, at most: for a root a profile signs by reference to one of
    its children (the tax profile: HSoKhaiThue, TBaoThue) that child, found as the signer finds
    it (the root's only child of that name); else the whole document (bhxh and generic sign
    ``URI=""``). Signed with another profile, such a root is covered whole, the child included,
    so the child's fields are what is signed either way. None when the child is missing (the
    tax profile refuses that file: nothing to summarise)."""
    kind = etree.QName(root).localname
    local = next(
        (
            p.reference_element
            for profile in PROFILES.values()
            for p in profile.placements
            if p.root == kind and p.reference_element
        ),
        None,
    )
    if local is None:
        return root
    found = [c for c in root.iterchildren(etree.Element) if etree.QName(c).localname == local]
    if len(found) > 1:
        raise KysoError("XML_CONTAINER_AMBIGUOUS", {"container": local, "count": len(found)})
    if not found:
        return None
    if etree.QName(found[0]).namespace != etree.QName(root).namespace:
        raise ambiguous(f"<{local}> thuộc namespace lạ", f"<{local}> in a foreign namespace")
    return found[0]


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
    out = []
    for holder in elements_at(root, REQUEST_CHANGES_PATH):
        for item in holder.iterchildren(etree.Element):
            name = etree.QName(item).localname
            old = values_at(item, "GiaTriCu") or "(trống)"
            new = values_at(item, "GiaTriMoi") or "(trống)"
            out.append((REQUEST_FIELD_LABELS.get(name, name), f"{old} → {new}"))
    return out


def _request_procedures(root: etree._Element) -> tuple[str, str]:
    """The dossier types an account request names, by code (the portal acts on MaThuTuc) with
    the names of Kyso's catalogue ("600 – …; 601 – …"; "…" when none), and the request's own
    TenThuTuc when one of them says something else ("" when they agree), as its words."""
    holder = REQUEST_VALUES["ho_so"].rsplit("/", 1)[0]  # NoiDung/DanhSachHoSo/HoSo
    shown: list[str] = []
    stated_all: list[str] = []
    differs = False
    for item in elements_at(root, holder):
        code = field_value(item, ("MaThuTuc",)) or "?"
        known = BHXH_PROCEDURES.get(code)
        shown.append(
            f"{code if known else one_line(code, _CODE_SHOWN)} – {known or _NOT_IN_CATALOGUE}"
        )
        stated = field_value(item, ("TenThuTuc",)) or ""
        stated_all.append(stated)
        # The portal writes "600 – <name>"; the bare name reads the same.
        if stated and not (known and _same_words(stated.split(" – ", 1)[-1], known)):
            differs = True
    words = "; ".join(w for w in stated_all if w) if differs else ""
    return one_line("; ".join(shown)) or "…", one_line(words)


def summarize_request(root: etree._Element, document: bytes) -> ConsentItem:
    """An account request (:data:`REQUEST_ROOT`) in words, from the profiles' summary table:
    the sentence as the title, then its rows and each changed field as "old → new"."""
    code = values_at(root, REQUEST_CODE_PATH)
    rule = REQUEST_SUMMARIES.get(code)
    digest = hashlib.sha256(document).hexdigest()
    # Compared with the certificate's as the signed bytes hold it: "0101234567" followed by
    # U+2060 is not that unit's tax code, whatever the dialog shows.
    mst = raw_values(root, REQUEST_VALUES["mst"])
    label = "Mã băm SHA-256 của yêu cầu gửi ký / SHA-256 of the request sent for signing"
    if rule is None:
        # Never a vague "confirm": an unknown request says so, with what it contains.
        unknown_lines = [
            (lbl, values_at(root, REQUEST_VALUES[key]))
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
            mst=mst,
        )
    changes = _changes(root)
    values = {key: values_at(root, path) or "…" for key, path in REQUEST_VALUES.items()}
    values["thoi_gian"] = _local_time(values["thoi_gian"])
    values["thay_doi"] = one_line(", ".join(name for name, _ in changes)) or "…"
    values["ten_ho_so"], file_words = _request_procedures(root)
    lines: list[tuple[str, str]] = []
    for lbl, key in rule.lines:
        if key == "cong":  # changed fields go before the portal and the time
            lines.extend(changes)
            changes = []
        if values[key] != "…":
            lines.append((lbl, values[key]))
        if key == "ten_ho_so" and file_words:
            lines.append((_OTHER_NAME, file_words))
    lines.extend(changes)
    return ConsentItem(
        title=rule.sentence_vi.format_map(values),
        lines=tuple(lines),
        sha256=digest,
        sha256_label=label,
        mst=mst,
    )


# A dossier's title by its root (a form file's is "Tờ khai <code>").
_TITLES = {
    "Hoso": "Hồ sơ {procedure}",
    "HSoThueDTu": "Hồ sơ khai thuế điện tử",
    "TBaoThueDTu": "Thông báo của cơ quan thuế",
}
_NOT_IN_CATALOGUE = "thủ tục không có trong danh mục của Kyso"
_CODE_SHOWN = 24  # characters of a code Kyso does not know, before its warning
# The dossier's own TenThuTuc, labelled as the file's words (the UI splits "vi / en").
_FILE_NAME = "Tên thủ tục tệp tự ghi / the file's own name"
_OTHER_NAME = "Tệp tự ghi tên khác / the file names it otherwise"


def _procedure(code: str | None, stated: str | None) -> tuple[str, list[tuple[str, str]]]:
    """How the consent names a dossier's procedure: (words for the title, lines).

    The portal acts on the code (MaThuTuc), so the name is Kyso's (:data:`BHXH_PROCEDURES`);
    the dossier's own name (TenThuTuc, which nobody checks against the code) is shown only as
    the file's words: under the catalogue's name when it says something else, alone under a
    code Kyso does not know. Otherwise "612 — Báo tăng..." would dress another procedure in
    the harmless name of 600."""
    known = BHXH_PROCEDURES.get(code) if code else None
    if known is not None:
        lines = [("Thủ tục", f"{code} — {known}")]
        if stated and not _same_words(stated, known):
            lines.append((_OTHER_NAME, stated))
        return f"{code} — {known}", lines
    # The code is page text before Kyso's words: cut short, so however long it is the warning
    # that follows stays on screen (the dialog cuts a line at its end).
    code = one_line(code, _CODE_SHOWN) if code else code
    lines = [("Thủ tục", f"{code} — {_NOT_IN_CATALOGUE}")] if code else []
    if stated:
        lines.append((_FILE_NAME, stated))
    return f"{code} — {_NOT_IN_CATALOGUE}" if code else "BHXH", lines


def _same_words(a: str, b: str) -> bool:
    """Whether two names read the same (composition, case and spacing aside)."""

    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return norm(a) == norm(b)


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
        stated = raw_values(root, REQUEST_ORIGIN_PATH)
        if origin is not None and stated.rstrip("/") != origin.rstrip("/"):
            raise KysoError(
                "XML_REQUEST_ORIGIN_MISMATCH",
                {"stated": one_line(stated) or "(không ghi)", "origin": origin},
            )
        return summarize_request(root, document)
    # A BHXH form file: its root is the form code (ToKhai: Kyso's older test files) and it
    # carries the <Cky> the signature goes in. A root with a shape of its own is never a form.
    is_form = kind not in SUMMARY_PATHS and (kind in BHXH_FORMS or root.find("{*}Cky") is not None)
    own_code = (form_code(root) or ("" if kind == "ToKhai" else kind)) if is_form else ""
    # Only what the signature covers, read where the portal reads it; a root of no known shape
    # shows no fields (there is no path to read them from).
    covered = _covered_part(root)
    paths = SUMMARY_PATHS.get("form" if is_form else kind, SummaryPaths())
    embedded = embedded_forms(covered, paths.forms) if covered is not None else EmbeddedForms()
    forms = embedded.names
    if is_form and own_code:
        forms.append(own_code)
    procedure, lines = _procedure(
        field_value(covered, paths.code), field_value(covered, paths.procedure)
    )
    unit = field_value(covered, paths.unit)
    mst = dossier_value("MaSoThue", field_value(covered, paths.mst), embedded.msts)
    period = dossier_value("KyKeKhai", field_value(covered, paths.period), embedded.periods)
    listed = rows_at(covered, paths.rows)
    embedded_rows = embedded.rows
    if listed and embedded_rows:
        # Two employee lists: the consent could show one while the portal (or a reader of the
        # form file) takes the other.
        raise ambiguous(
            "danh sách lao động ở cả hồ sơ (<DanhSachLaoDong>) và tờ khai đính kèm",
            "employee lists both in the dossier (<DanhSachLaoDong>) and in an embedded form",
        )
    rows = listed or embedded_rows
    if is_form:
        title = f"Tờ khai {own_code}".strip()
    else:
        title = _TITLES.get(kind, "Tài liệu XML <{kind}>").format(kind=kind, procedure=procedure)
    if forms and not is_form:
        title += f" ({', '.join(forms)})"
    declaration: list[tuple[str, str]] = []
    if kind == "HSoThueDTu" and covered is not None:
        # Which return, original or supplement, and its figures: not only whose and when.
        declaration = tax_lines(covered)
        code = declaration_code(covered)
        if code:
            title += f" — tờ khai mã {one_line(code, 20)}"
    for label, value in (
        ("Tờ khai", ", ".join(forms) if forms else None),
        ("Đơn vị", unit),
        ("Mã số thuế", mst),
        ("Kỳ kê khai", period),
        ("Số lao động", str(len(rows)) if rows else None),
    ):
        if value:
            lines.append((label, value))
    # Who the report is about, not only how many: a changed name or salary shows here.
    lines += people_lines(rows)
    lines += declaration
    lines.append(("Dung lượng", f"{len(document):,} byte".replace(",", ".")))
    return ConsentItem(
        title=title,
        lines=tuple(lines),
        sha256=hashlib.sha256(document).hexdigest(),
        mst=mst or "",
    )
