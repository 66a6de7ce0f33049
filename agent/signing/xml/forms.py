"""The form files a BHXH dossier carries in base64 (``FileToKhai/NoiDungFile``): what each
is (its own code, held to the envelope's label), the people in it, and the unit and period it
names, held to the dossier's. Pure logic."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from lxml import etree

from agent.errors import KysoError
from agent.signing.xml.profiles import (
    FORM_CODE_PATH,
    FORM_FILE_CONTENT,
    FORM_FILE_NAME,
    SUMMARY_PATHS,
)
from agent.signing.xml.reading import (
    XML_SPACE,
    XML_SPACE_RUN,
    ambiguous,
    elements_at,
    field_value,
    one_line,
    rows_at,
)
from agent.signing.xml.safe import parse_untrusted


@dataclass
class EmbeddedForms:
    """What the base64 form files of a dossier say: their codes (the form's own, checked
    against the envelope's label), the people in them, and the unit and period each names."""

    names: list[str] = field(default_factory=list)
    rows: list[etree._Element] = field(default_factory=list)
    msts: list[tuple[str, str]] = field(default_factory=list)  # (form, MST)
    periods: list[tuple[str, str]] = field(default_factory=list)  # (form, KyKeKhai)


def embedded_forms(base: etree._Element, paths: tuple[str, ...]) -> EmbeddedForms:
    """The embedded form files under ``paths``. The back office processes the form, not the
    envelope's label: a form whose own code differs from its label (a benefit claim filed as
    "D02-TS") is XML_FIELD_AMBIGUOUS, and its unit and period are compared with the dossier's
    (:func:`dossier_value`)."""
    found = EmbeddedForms()
    for path in paths:
        for item in elements_at(base, path):
            label = field_value(item, (FORM_FILE_NAME[0],))
            name = label or next(
                (v for p in FORM_FILE_NAME[1:] if (v := field_value(item, (p,)))), "?"
            )
            content = field_value(item, (FORM_FILE_CONTENT,))
            if not content:
                found.names.append(name)
                continue
            inner = _embedded_form(name, content)
            own = form_code(inner)
            if own and label and own != label:
                raise ambiguous(
                    f"MaToKhai: hồ sơ ghi {one_line(label, 30)}, tờ khai đính kèm là "
                    f"{one_line(own, 30)}",
                    f"MaToKhai: the dossier says {one_line(label, 30)}, the embedded form is "
                    f"{one_line(own, 30)}",
                )
            name = own or name
            found.names.append(name)
            found.rows += rows_at(inner, SUMMARY_PATHS["form"].rows)
            form_mst = field_value(inner, SUMMARY_PATHS["form"].mst)
            if form_mst:
                found.msts.append((name, form_mst))
            form_period = field_value(inner, SUMMARY_PATHS["form"].period)
            if form_period:
                found.periods.append((name, form_period))
    return found


def form_code(root: etree._Element) -> str | None:
    """The code a form file gives itself: its root element (D02-TS, M01B-HSB...) or ToKhai's
    ``MaToKhai=``, and ``ThongTinChung/MaToKhai``; XML_FIELD_AMBIGUOUS when they disagree (a
    reader may take any of them). None for a ToKhai that names none."""
    kind = etree.QName(root).localname
    codes: list[str] = []
    if kind == "ToKhai":
        stated = (root.get("MaToKhai") or "").strip(XML_SPACE)
        if stated:
            codes.append(stated)
    else:  # a form file's root element is its code (BHXH_FORMS, or one Kyso does not know)
        codes.append(kind)
    inside = field_value(root, (FORM_CODE_PATH,))
    if inside:
        codes.append(inside)
    if len(set(codes)) > 1:
        shown = ", ".join(one_line(c, 30) for c in dict.fromkeys(codes))
        raise ambiguous(f"tờ khai tự ghi hai mã ({shown})", f"a form naming two codes ({shown})")
    return codes[0] if codes else None


def _embedded_form(code: str, content: str) -> etree._Element:
    """The root of the form file in a base64 ``NoiDungFile``. One Kyso cannot read (not base64;
    UTF-16, windows-1258, a DOCTYPE...) is XML_FIELD_AMBIGUOUS: Java and .NET portals read such
    forms, so the unit a form names would otherwise pass the MST check unseen."""
    try:
        raw = base64.b64decode(XML_SPACE_RUN.sub("", content), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _unreadable_form(code, "không phải base64", "not base64") from exc
    try:
        return parse_untrusted(raw).getroot()
    except KysoError as exc:
        why = str(exc.details.get("encoding") or exc.details.get("detail") or exc.code)[:120]
        raise _unreadable_form(code, why, why) from exc


def _unreadable_form(code: str, why_vi: str, why_en: str) -> KysoError:
    code = one_line(code)  # the document's words, into an error message: one line, bounded
    return ambiguous(
        f"<NoiDungFile> (tờ khai {code} đính kèm, Kyso không đọc được: {why_vi})",
        f"<NoiDungFile> (embedded form {code}, which Kyso cannot read: {why_en})",
    )


def dossier_value(field_vi: str, value: str | None, forms: list[tuple[str, str]]) -> str | None:
    """The dossier's ``field_vi`` (MaSoThue, KyKeKhai), which every embedded form must state the
    same (or the forms' one when the envelope has none): a form of another unit, or of another
    period (a back-dated report), would otherwise pass under the envelope's value."""
    value = value or (forms[0][1] if forms else None)
    for form, stated in forms:
        if stated != value:
            raise ambiguous(
                f"{field_vi}: hồ sơ {value}, tờ khai {form} {stated}",
                f"{field_vi}: dossier {value}, form {form} {stated}",
            )
    return value
