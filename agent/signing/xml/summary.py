"""What a person sees before signing a dossier or an account request: a short, human summary.
Pure logic, no I/O."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import unicodedata

from lxml import etree

from agent.errors import KysoError
from agent.shown import shown_width
from agent.signing.consent import ConsentItem
from agent.signing.xml.procedures import BHXH_PLANS, BHXH_PROCEDURES
from agent.signing.xml.profiles import (
    BHXH_FORMS,
    FORM_FILE_CONTENT,
    FORM_FILE_NAME,
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
from agent.signing.xml.safe import parse_untrusted

# XML's own whitespace: the only characters trimmed from a value. Anything else (a no-break or
# ideographic space, U+2060, U+200B, U+202E...) stays, so the UI tags it <U+XXXX> and the MST
# and portal comparisons see the value the signed bytes hold.
_XML_SPACE = " \t\r\n"
_XML_SPACE_RUN = re.compile(r"[ \t\r\n]+")
# What the dialog shows as one space: Unicode whitespace (str.isspace, which covers every Zs
# space, NEL and the line/paragraph separators).
_SHOWN_SPACE_RUN = re.compile(r"\s+")


def _ambiguous(detail_vi: str, detail_en: str) -> KysoError:
    """A field the summary cannot show as the signature (and the portal) will read it."""
    return KysoError("XML_FIELD_AMBIGUOUS", {"detail_vi": detail_vi, "detail_en": detail_en})


def _namespace(element: etree._Element) -> str | None:
    """The namespace of the document ``element`` belongs to (its root's; None: no namespace)."""
    return etree.QName(element.getroottree().getroot()).namespace


def _at(base: etree._Element, path: str) -> list[etree._Element]:
    """The elements at ``path`` under ``base``, every step in the document's namespace.

    An element named like a step but in another namespace is XML_FIELD_AMBIGUOUS: it is not the
    field, yet a reader that matches names only (``local-name()``, ``GetElementsByTagName``)
    would take it, so what the summary shows and what a portal reads could differ."""
    namespace = _namespace(base)
    found = [base]
    for step in path.split("/"):
        below = []
        for parent in found:
            for child in parent.iterchildren(etree.Element):
                name = etree.QName(child)
                if name.localname != step:
                    continue
                if name.namespace != namespace:
                    raise _ambiguous(
                        f"<{step}> thuộc namespace lạ {name.namespace or '(không có)'}",
                        f"<{step}> in a foreign namespace {name.namespace or '(none)'}",
                    )
                below.append(child)
        found = below
    return found


def _string_value(element: etree._Element, path: str) -> str:
    """The element's full text, as canonical XML has it; XML_FIELD_AMBIGUOUS when it holds
    anything but text (a comment or PI splits ``.text``, and C14N drops it and joins the pieces;
    a child element adds its own text), since no reader would then see what the dialog shows."""
    for node in element:  # comments and PIs too, not only elements
        if isinstance(node, etree._Comment):
            what = ("chú thích <!-- -->", "a comment")
        elif isinstance(node, etree._ProcessingInstruction):
            what = ("chỉ thị xử lý <? ?>", "a processing instruction")
        else:
            child = etree.QName(node).localname
            what = (f"phần tử con <{child}>", f"a child element <{child}>")
        raise _ambiguous(f"{what[0]} trong <{path}>", f"{what[1]} inside <{path}>")
    return "".join(element.itertext())


def _field(base: etree._Element | None, paths: tuple[str, ...]) -> str | None:
    """The one element at one of ``paths`` under ``base``, as text (None when absent or blank).
    Two or more of them is XML_FIELD_AMBIGUOUS: the dialog would have to pick one, and a portal
    might read the other."""
    if base is None or not paths:
        return None
    found = [(path, el) for path in paths for el in _at(base, path)]
    if not found:
        return None
    if len(found) > 1:
        where = ", ".join(sorted({f"<{path}>" for path, _ in found}))
        raise _ambiguous(
            f"{len(found)} phần tử cho cùng một trường ({where})",
            f"{len(found)} elements for one field ({where})",
        )
    path, element = found[0]
    return _string_value(element, path).strip(_XML_SPACE) or None


def _rows(base: etree._Element | None, paths: tuple[str, ...]) -> list[etree._Element]:
    return [] if base is None else [row for path in paths for row in _at(base, path)]


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
        raise _ambiguous(f"<{local}> thuộc namespace lạ", f"<{local}> in a foreign namespace")
    return found[0]


def _form_files(
    base: etree._Element, paths: tuple[str, ...]
) -> tuple[list[str], list[etree._Element], list[tuple[str, str]]]:
    """Names of embedded form files, the employee rows inside them (base64 NoiDungFile), and
    the tax code each form names, as (form, MST): the portal holds each form to its unit too."""
    names: list[str] = []
    rows: list[etree._Element] = []
    msts: list[tuple[str, str]] = []
    for path in paths:
        for item in _at(base, path):
            code = next((v for p in FORM_FILE_NAME if (v := _field(item, (p,)))), "?")
            names.append(code)
            content = _field(item, (FORM_FILE_CONTENT,))
            if not content:
                continue
            inner = _embedded_form(code, content)
            rows += _rows(inner, SUMMARY_PATHS["form"].rows)
            form_mst = _field(inner, SUMMARY_PATHS["form"].mst)
            if form_mst:
                msts.append((code, form_mst))
    return names, rows, msts


# Employees shown one per line in the consent (name, change, salary, from when); past these the
# dialog says how many more there are. Enough for the usual monthly report, short enough that
# the rest of the dialog stays in sight.
ROWS_SHOWN = 5


# Each part of an employee's line has its own length, so a long name cannot push the change,
# the salary or the month out of sight.
_EMPLOYEE_PARTS = {"name": 60, "plan": 70, "salary": 40, "since": 20}


def _employee_line(row: etree._Element) -> str:
    """One employee row as a person reads it: "Nguyễn Văn An · Tăng mới (TM) · lương 8.500.000
    đồng · từ 11/2026"; each field read where the portal reads it (ambiguous: refused)."""
    name = _field(row, ("HoTen",)) or "(không ghi tên)"
    parts = [_one_line(name, _EMPLOYEE_PARTS["name"])]
    plan = _field(row, ("PhuongAn",))
    if plan:
        known = BHXH_PLANS.get(plan)
        shown = f"{known} ({plan})" if known else f"phương án {plan} (Kyso không biết mã này)"
        parts.append(_one_line(shown, _EMPLOYEE_PARTS["plan"]))
    salary = _field(row, ("MucLuong",))
    if salary:
        parts.append(_one_line(f"lương {_money(salary)}", _EMPLOYEE_PARTS["salary"]))
    since = _field(row, ("TuThang",))
    if since:
        parts.append(_one_line(f"từ {since}", _EMPLOYEE_PARTS["since"]))
    return " · ".join(parts)


def _money(text: str) -> str:
    """Whole đồng with Vietnamese thousands dots; anything else exactly as written."""
    if not text.isascii() or not text.isdigit():
        return text
    return f"{int(text):,} đồng".replace(",", ".")


def _employee_lines(rows: list[etree._Element]) -> list[tuple[str, str]]:
    lines = [(f"Lao động {i}", _employee_line(row)) for i, row in enumerate(rows[:ROWS_SHOWN], 1)]
    more = len(rows) - ROWS_SHOWN
    if more > 0:
        lines.append(("Lao động khác", f"{more} người nữa, không liệt kê ở đây"))
    if len(rows) > 1:
        # Every row counts in the total, those not listed too: a changed salary anywhere
        # changes this line, which a person can compare with the payroll.
        salaries = [_field(row, ("MucLuong",)) or "" for row in rows]
        if all(s.isascii() and s.isdigit() for s in salaries):
            total = _money(str(sum(int(s) for s in salaries)))
            lines.append(("Tổng mức lương", f"{total} ({len(rows)} lao động)"))
        else:
            lines.append(("Tổng mức lương", "không tính được: có mức lương không phải số"))
    return lines


def _embedded_form(code: str, content: str) -> etree._Element:
    """The root of the form file in a base64 ``NoiDungFile``. One Kyso cannot read (not base64;
    UTF-16, windows-1258, a DOCTYPE...) is XML_FIELD_AMBIGUOUS: Java and .NET portals read such
    forms, so the unit a form names would otherwise pass the MST check unseen."""
    try:
        raw = base64.b64decode(_XML_SPACE_RUN.sub("", content), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _unreadable_form(code, "không phải base64", "not base64") from exc
    try:
        return parse_untrusted(raw).getroot()
    except KysoError as exc:
        why = str(exc.details.get("encoding") or exc.details.get("detail") or exc.code)[:120]
        raise _unreadable_form(code, why, why) from exc


def _unreadable_form(code: str, why_vi: str, why_en: str) -> KysoError:
    code = _one_line(code)  # the document's words, into an error message: one line, bounded
    return _ambiguous(
        f"<NoiDungFile> (tờ khai {code} đính kèm, Kyso không đọc được: {why_vi})",
        f"<NoiDungFile> (embedded form {code}, which Kyso cannot read: {why_en})",
    )


def _dossier_mst(mst: str | None, form_msts: list[tuple[str, str]]) -> str | None:
    """The dossier's tax code, which every embedded form must name too (or the forms' one)."""
    mst = mst or (form_msts[0][1] if form_msts else None)
    for form, form_mst in form_msts:
        if form_mst != mst:
            # A form of another unit inside this dossier: the dialog (and the MST check against
            # the certificate) would show one unit while the portal holds the form to another.
            raise _ambiguous(
                f"MaSoThue: hồ sơ {mst}, tờ khai {form} {form_mst}",
                f"MaSoThue: dossier {mst}, form {form} {form_mst}",
            )
    return mst


# Values are page-supplied text: one line each, and never long enough to push the rest of the
# dialog out of sight.
_MAX_VALUE = 160


def _one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line, cut to ``limit`` characters as shown (:data:`_MAX_VALUE`). Every run of
    spaces of any kind (XML whitespace, no-break, ideographic, line separators) counts as the
    one space the dialog shows (agent.ui.untrusted), so padding cannot use up the length and
    push the end of a value out of sight. Every other character stays, invisible ones
    included (bidi overrides, zero-width, word joiner): the UI's render_untrusted shows each
    as <U+XXXX>. Dropped here, they would be missing from the dialog while the signed bytes,
    and the portal, keep them."""
    limit = _MAX_VALUE if limit is None else limit
    flat = _SHOWN_SPACE_RUN.sub(" ", text).strip(" ")
    # Measured as shown: a zero-width or bidi character is an 8-character tag on screen, so
    # 47 of them after a name would otherwise push the salary out of the dialog's line.
    widths = [shown_width(char) for char in flat]
    if sum(widths) <= limit:
        return flat
    used = 0
    for index, width in enumerate(widths):
        if used + width > limit - 1:  # room is left for the "…"
            return flat[:index].rstrip(" ") + "…"
        used += width
    return flat  # not reached: the sum is over the limit


def _raw_values(root: etree._Element, path: str) -> str:
    """Every element at ``path`` (in the document's namespace, see :func:`_at`), each its full
    text (:func:`_string_value`) trimmed of XML whitespace, joined with "; " (names hold
    commas): what is compared (the MST, the portal), never cut or cleaned."""
    found = [_string_value(e, path).strip(_XML_SPACE) for e in _at(root, path)]
    return "; ".join(v for v in found if v)


def _values(root: etree._Element, path: str) -> str:
    """:func:`_raw_values` as the dialog shows it: one line (:func:`_one_line`)."""
    return _one_line(_raw_values(root, path))


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
    for holder in _at(root, REQUEST_CHANGES_PATH):
        for item in holder.iterchildren(etree.Element):
            name = etree.QName(item).localname
            old = _values(item, "GiaTriCu") or "(trống)"
            new = _values(item, "GiaTriMoi") or "(trống)"
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
    for item in _at(root, holder):
        code = _field(item, ("MaThuTuc",)) or "?"
        known = BHXH_PROCEDURES.get(code)
        shown.append(f"{code} – {known or _NOT_IN_CATALOGUE}")
        stated = _field(item, ("TenThuTuc",)) or ""
        stated_all.append(stated)
        # The portal writes "600 – <name>"; the bare name reads the same.
        if stated and not (known and _same_words(stated.split(" – ", 1)[-1], known)):
            differs = True
    words = "; ".join(w for w in stated_all if w) if differs else ""
    return _one_line("; ".join(shown)) or "…", _one_line(words)


def summarize_request(root: etree._Element, document: bytes) -> ConsentItem:
    """An account request (:data:`REQUEST_ROOT`) in words, from the profiles' summary table:
    the sentence as the title, then its rows and each changed field as "old → new"."""
    code = _values(root, REQUEST_CODE_PATH)
    rule = REQUEST_SUMMARIES.get(code)
    digest = hashlib.sha256(document).hexdigest()
    # Compared with the certificate's as the signed bytes hold it: "0101234567" followed by
    # U+2060 is not that unit's tax code, whatever the dialog shows.
    mst = _raw_values(root, REQUEST_VALUES["mst"])
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
            mst=mst,
        )
    changes = _changes(root)
    values = {key: _values(root, path) or "…" for key, path in REQUEST_VALUES.items()}
    values["thoi_gian"] = _local_time(values["thoi_gian"])
    values["thay_doi"] = _one_line(", ".join(name for name, _ in changes)) or "…"
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
        stated = _raw_values(root, REQUEST_ORIGIN_PATH)
        if origin is not None and stated.rstrip("/") != origin.rstrip("/"):
            raise KysoError(
                "XML_REQUEST_ORIGIN_MISMATCH",
                {"stated": _one_line(stated) or "(không ghi)", "origin": origin},
            )
        return summarize_request(root, document)
    # A BHXH form file: its root is the form code (ToKhai: Kyso's older test files) and it
    # carries the <Cky> the signature goes in. A root with a shape of its own is never a form.
    is_form = kind not in SUMMARY_PATHS and (kind in BHXH_FORMS or root.find("{*}Cky") is not None)
    form_code = (root.get("MaToKhai") or "") if kind == "ToKhai" else kind
    # Only what the signature covers, read where the portal reads it; a root of no known shape
    # shows no fields (there is no path to read them from).
    covered = _covered_part(root)
    paths = SUMMARY_PATHS.get("form" if is_form else kind, SummaryPaths())
    forms, embedded_rows, form_msts = (
        _form_files(covered, paths.forms) if covered is not None else ([], [], [])
    )
    if is_form and form_code:
        forms.append(form_code)
    procedure, lines = _procedure(_field(covered, paths.code), _field(covered, paths.procedure))
    unit = _field(covered, paths.unit)
    mst = _dossier_mst(_field(covered, paths.mst), form_msts)
    period = _field(covered, paths.period)
    listed = _rows(covered, paths.rows)
    if listed and embedded_rows:
        # Two employee lists: the consent could show one while the portal (or a reader of the
        # form file) takes the other.
        raise _ambiguous(
            "danh sách lao động ở cả hồ sơ (<DanhSachLaoDong>) và tờ khai đính kèm",
            "employee lists both in the dossier (<DanhSachLaoDong>) and in an embedded form",
        )
    rows = listed or embedded_rows
    if is_form:
        title = f"Tờ khai {form_code}".strip()
    else:
        title = _TITLES.get(kind, "Tài liệu XML <{kind}>").format(kind=kind, procedure=procedure)
    if forms and not is_form:
        title += f" ({', '.join(forms)})"
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
    lines += _employee_lines(rows)
    lines.append(("Dung lượng", f"{len(document):,} byte".replace(",", ".")))
    return ConsentItem(
        title=title,
        lines=tuple(lines),
        sha256=hashlib.sha256(document).hexdigest(),
        mst=mst or "",
    )
