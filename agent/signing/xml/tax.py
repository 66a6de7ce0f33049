"""What a tax return (HTKK's ``HSoThueDTu``) says beyond its taxpayer and period: which
declaration it is, whether it is the original or a supplement, and its indicators with their
values, as the paper form numbers them ([22], [40]...). Pure logic.

Two returns for one unit and one period must not read the same in the consent: a page could
otherwise swap a VAT return for another declaration, or an original for a supplement with
another amount (red team 36). Kyso keeps no catalogue of the tax forms' codes: the code is
shown as written, the file's own name for it as the file's words."""

from __future__ import annotations

import re

from lxml import etree

from agent.signing.xml.reading import (
    ambiguous,
    elements_at,
    field_value,
    one_line,
    quoted,
    string_value,
)

# Under the signed HSoKhaiThue.
DECLARATION_PATH = "TTinChung/TTinTKhaiThue/TKhaiThue"
INDICATORS_PATH = "CTieuTKhaiChinh"
# The file's own name for its declaration (the UI splits "vi / en").
FILE_FORM_NAME = "Tên tờ khai tệp tự ghi / the file's own name"
# Indicators shown one per line, every one: a return with more is refused rather than shown
# in part (a real declaration's main part has well under a hundred).
MAX_INDICATORS = 300
_INDICATOR = re.compile(r"ct(\d{1,6})([a-z]?)")  # ct40, ct40a; a name past that is no indicator
_KINDS = {"C": "chính thức (C)", "B": "bổ sung lần {times} (B)"}


def declaration_code(part: etree._Element) -> str | None:
    """The declaration's code (``maTKhai``) as written, or None."""
    return field_value(part, (f"{DECLARATION_PATH}/maTKhai",))


def tax_lines(part: etree._Element) -> list[tuple[str, str]]:
    """The declaration's code, the file's name for it, original or supplement, then every
    indicator under :data:`INDICATORS_PATH` in document order ("Chỉ tiêu [40]": its value).
    An indicator found twice is XML_FIELD_AMBIGUOUS (a reader could take either)."""
    lines: list[tuple[str, str]] = []
    code = declaration_code(part)
    if code:
        lines.append(("Mã tờ khai", one_line(code, 40)))
    name = field_value(part, (f"{DECLARATION_PATH}/tenTKhai",))
    if name:
        lines.append((FILE_FORM_NAME, name))
    kind = field_value(part, (f"{DECLARATION_PATH}/loaiTKhai",))
    if kind:
        times = field_value(part, (f"{DECLARATION_PATH}/soLan",)) or "?"
        known = _KINDS.get(kind)
        shown = known.format(times=one_line(times, 10)) if known else None
        lines.append(("Loại tờ khai", shown or f"{one_line(kind, 20)} (Kyso không biết mã này)"))
    return lines + _indicator_lines(part)


def _indicator_lines(part: etree._Element) -> list[tuple[str, str]]:
    seen: set[str] = set()
    shown: list[tuple[str, str]] = []
    for holder in elements_at(part, INDICATORS_PATH):
        for element in holder.iter(etree.Element):
            name = etree.QName(element)
            match = _INDICATOR.fullmatch(name.localname)
            if match is None:
                continue
            if name.namespace != etree.QName(part).namespace:
                # Not the indicator, yet a reader matching names only would take it.
                raise ambiguous(
                    f"<{name.localname}> thuộc namespace lạ",
                    f"<{name.localname}> in a foreign namespace",
                )
            number = f"{int(match.group(1))}{match.group(2)}"
            if number in seen:
                raise ambiguous(
                    f"hai chỉ tiêu [{number}] trong tờ khai", f"two indicators [{number}]"
                )
            seen.add(number)
            if len(seen) > MAX_INDICATORS:
                raise ambiguous(
                    f"tờ khai có hơn {MAX_INDICATORS} chỉ tiêu: Kyso không hiện hết được",
                    f"the return has over {MAX_INDICATORS} indicators: Kyso cannot show them all",
                )
            value = string_value(element, name.localname).strip(" \t\r\n")
            if value:
                shown.append((f"Chỉ tiêu [{number}]", _amount(value)))
    return shown


def _amount(text: str) -> str:
    """Digits with Vietnamese thousands dots (a minus kept); anything else quoted, as the
    file's words (it could otherwise read as Kyso's, or as another indicator)."""
    digits = text[1:] if text.startswith("-") else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return quoted(text, 40)
    return ("-" if digits != text else "") + f"{int(digits):,}".replace(",", ".")
