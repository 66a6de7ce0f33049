"""What you see is what you sign, for the people a BHXH dossier is about and for the forms
inside it (red team 36). Two dossiers that mean different things to the office must not read
the same in the consent:

- a benefit claim's beneficiary and days (M01B-HSB), a registration's person (TK1-TS);
- any employee row's change, salary or insurance number, the rows past the first ones too;
- a name cannot pass for Kyso's own words (it comes after them);
- an embedded form is what it says it is: its own code and period must be the envelope's;
- a long unknown procedure code cannot cut Kyso's "not in the catalogue" off the line.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from agent.errors import KysoError
from agent.server.consent import xml_item
from agent.signing.consent import ConsentItem
from agent.signing.xml import people as people_module
from agent.signing.xml import summarize_xml
from agent.ui.text import item_section
from agent.ui.untrusted import VALUE_LIMIT, render_untrusted
from tests.signing_xml.helpers import FORM, HOSO
from tests.signing_xml.test_summary_employees import employee, report

FORMS = Path(__file__).resolve().parents[1] / "fixtures" / "xml" / "forms"
M01B = (FORMS / "M01B-HSB.xml").read_bytes()
TK1 = (FORMS / "TK1-TS.xml").read_bytes()


def shown(document: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Title and lines as every prompter renders them, without the size and the SHA-256 (they
    differ between any two documents, and nobody reads them as the content)."""
    item: ConsentItem = xml_item(document)
    section = item_section(item, 1, 1)
    lines = tuple(
        (f.label_vi, f.value)
        for f in section.fields
        if f.label_vi != "Dung lượng" and f.style != "mono"
    )
    return section.title, lines


def text(document: bytes) -> str:
    title, lines = shown(document)
    return title + "\n" + "\n".join(f"{k}: {v}" for k, v in lines)


def hoso(form: bytes, label: bytes = b"D02-TS", procedure: bytes = b"600") -> bytes:
    """HOSO with ``form`` as its embedded form file, filed under ``label``."""
    return (
        HOSO.replace(base64.b64encode(FORM), base64.b64encode(form))
        .replace(b"<MaToKhai>D02-TS</MaToKhai>", b"<MaToKhai>" + label + b"</MaToKhai>")
        .replace(b"<MaThuTuc>600</MaThuTuc>", b"<MaThuTuc>" + procedure + b"</MaThuTuc>")
    )


# --- the people ---------------------------------------------------------------------------------


def test_a_benefit_claim_shows_who_is_paid_and_for_how_many_days() -> None:
    shown_text = text(M01B)
    assert "«Vũ Thị Mai»" in shown_text and "180 ngày" in shown_text and "Thai sản" in shown_text
    other = M01B.replace("Vũ Thị Mai".encode(), "Trần Văn Kẻ".encode())
    longer = M01B.replace(b"<SoNgay>180</SoNgay>", b"<SoNgay>540</SoNgay>")
    assert len({shown(M01B), shown(other), shown(longer)}) == 3
    # The same claim inside a dossier (procedure 630b, the form in base64).
    inside = hoso(M01B, b"M01B-HSB", b"630b")
    assert "«Vũ Thị Mai»" in text(inside)
    assert shown(inside) != shown(hoso(other, b"M01B-HSB", b"630b"))


def test_a_registration_shows_the_person_registered() -> None:
    shown_text = text(TK1)
    assert "«Lê Hoàng Dũng»" in shown_text and "CCCD 001090012345" in shown_text
    other = TK1.replace(b"001090012345", b"079099999999")
    assert shown(TK1) != shown(other)


def test_every_row_of_a_monthly_report_is_listed() -> None:
    """Rows past the fifth were only summed: one turned into "Giảm hẳn" (the person's insurance
    stops), or two salaries swapped, left the consent the same."""
    rows = [employee(f"Người {i}", 6_000_000 + i * 1000, "DL") for i in range(8)]
    before = report(rows)
    stopped = list(rows)
    stopped[-1] = dataclasses.replace(rows[-1], PhuongAn="GH")
    swapped = list(rows)
    swapped[-2] = dataclasses.replace(rows[-2], MucLuong=rows[-1].MucLuong)
    swapped[-1] = dataclasses.replace(rows[-1], MucLuong=rows[-2].MucLuong)
    assert len({shown(before), shown(report(stopped)), shown(report(swapped))}) == 3
    assert "Giảm hẳn" in dict(shown(report(stopped))[1])["Lao động 8"]


def test_past_the_listed_rows_the_counts_per_change_still_move(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(people_module, "ROWS_SHOWN", 2)
    rows = [employee(f"Người {i}", 6_000_000, "DL") for i in range(5)]
    before = dict(summarize_xml(report(rows)).lines)
    rows[-1] = dataclasses.replace(rows[-1], PhuongAn="GH")
    after = dict(summarize_xml(report(rows)).lines)
    assert before["Theo phương án"] == "Điều chỉnh mức lương (DL): 5"
    assert after["Theo phương án"] == "Điều chỉnh mức lương (DL): 4 · Giảm hẳn (nghỉ việc) (GH): 1"


def test_another_persons_insurance_number_shows() -> None:
    before = report([employee("Nguyễn Văn An", 8_500_000)], inline=True)
    after = before.replace(b"<MaSoBHXH>0123456789</MaSoBHXH>", b"<MaSoBHXH>7999999999</MaSoBHXH>")
    assert after.count(b"7999999999") == 1
    assert shown(before) != shown(after)
    assert "mã số BHXH 7999999999" in text(after)


def test_a_name_cannot_read_as_the_rows_change_and_salary() -> None:
    forged = "Nguyễn Văn An · Tăng mới (TM) · lương 8.500.000 đồng"
    document = report([employee(forged, 85_000_000, "GH")], inline=True)
    (value,) = [v for k, v in summarize_xml(document).lines if k == "Lao động 1"]
    line = render_untrusted(value, VALUE_LIMIT)
    assert line.startswith("Giảm hẳn (nghỉ việc) (GH) · lương 85.000.000 đồng"), line
    assert f"«{forged}»" in line


# --- the embedded forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "label"),
    [
        (M01B, b"D02-TS"),  # a benefit claim filed as the monthly report
        (FORM.replace(b'MaToKhai="D02-TS"', b'MaToKhai="D05-TS"'), b"D02-TS"),
        (FORM, b"D02-TS (\xc4\x91\xc3\xa3 duy\xe1\xbb\x87t)"),  # a label that is no form code
    ],
    ids=["M01B-HSB as D02-TS", "ToKhai D05-TS as D02-TS", "label with words"],
)
def test_an_embedded_form_is_the_form_its_label_says(form: bytes, label: bytes) -> None:
    with pytest.raises(KysoError) as refused:
        summarize_xml(hoso(form, label))
    assert refused.value.code == "XML_FIELD_AMBIGUOUS"
    assert "MaToKhai" in refused.value.details["detail_en"]


def test_a_form_naming_two_codes_is_refused() -> None:
    two = M01B.replace(b"<MaToKhai>M01B-HSB</MaToKhai>", b"<MaToKhai>D02-TS</MaToKhai>")
    for document in (two, hoso(two, b"M01B-HSB")):
        with pytest.raises(KysoError) as refused:
            summarize_xml(document)
        assert refused.value.code == "XML_FIELD_AMBIGUOUS"


def test_an_embedded_forms_period_is_the_dossiers() -> None:
    """A back-dated D02-TS (01/2019: arrears) inside a dossier for 11/2026."""
    back_dated = FORM.replace(b"<KyKeKhai>11/2026</KyKeKhai>", b"<KyKeKhai>01/2019</KyKeKhai>")
    with pytest.raises(KysoError) as refused:
        summarize_xml(hoso(back_dated))
    assert refused.value.code == "XML_FIELD_AMBIGUOUS"
    assert "KyKeKhai" in refused.value.details["detail_en"]
    # Without a period of its own the dossier shows the form's.
    no_period = hoso(back_dated).replace(b"<KyKeKhai>11/2026</KyKeKhai>", b"")
    assert dict(summarize_xml(no_period).lines)["Kỳ kê khai"] == "01/2019"


def test_a_long_unknown_procedure_code_leaves_kysos_warning_on_screen() -> None:
    code = "600 — Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN " + "(mẫu mới) " * 30
    document = HOSO.replace(b"<MaThuTuc>600</MaThuTuc>", f"<MaThuTuc>{code}</MaThuTuc>".encode())
    title, lines = shown(document)
    assert "không có trong danh mục" in title, title
    assert "không có trong danh mục" in dict(lines)["Thủ tục"]


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("MucLuong", "1.000 đồng · từ 01/2019"),
        ("TuThang", "11/2026 · lương 1 đồng"),
        ("PhuongAn", "TM) · lương 8.500.000 đồng · Tăng mới (TM"),
        ("HoTen", "An» · Tăng mới (TM) · «An"),
    ],
)
def test_a_value_kyso_cannot_read_is_quoted_and_cannot_close_its_quote(
    tag: str, value: str
) -> None:
    """Every value of a row is page text: one that is no number or month Kyso reads is set
    apart, its own guillemets unable to end the quote and go on in Kyso's words."""
    document = report([employee("An", 8_500_000)], inline=True)
    start, end = f"<{tag}>".encode(), f"</{tag}>".encode()
    head, rest = document.split(start, 1)
    document = head + start + value.encode() + end + rest.split(end, 1)[1]
    (line,) = [v for k, v in summarize_xml(document).lines if k == "Lao động 1"]
    shown = value.replace("«", "‹").replace("»", "›")
    assert f"«{shown[:8]}" in line, line  # quoted (and cut short where it is long)
    assert line.count("«") == line.count("»") == 2 - (tag == "HoTen"), line


def test_huge_numbers_are_no_crash_and_long_unknown_codes_leave_kysos_words() -> None:
    """5000 digits raised ValueError (int's limit); a long unknown change code pushed "Kyso
    không biết mã này" and the other counts off their lines (review 38)."""
    rows = [employee("An", 8_500_000), employee("Bình", 9_000_000, "GH")]
    document = report(rows, inline=True).replace(
        b"<MucLuong>8500000<", b"<MucLuong>" + b"9" * 5000 + b"<"
    )
    lines = dict(summarize_xml(document).lines)
    assert "lương «999" in lines["Lao động 1"]
    assert lines["Tổng mức lương"].startswith("không tính được")
    code = "TM · Tăng mới " * 20
    odd = report(rows, inline=True).replace(b"<PhuongAn>TM<", f"<PhuongAn>{code}<".encode())
    lines = dict(summarize_xml(odd).lines)
    assert "(Kyso không biết mã này)" in render_untrusted(lines["Lao động 1"], VALUE_LIMIT)
    assert render_untrusted(lines["Theo phương án"], VALUE_LIMIT).startswith(
        "Giảm hẳn (nghỉ việc) (GH): 1"
    )


def test_the_insurance_number_stays_on_screen_whatever_the_other_values() -> None:
    """Each part had its own bound but their sum passed the dialog's line: page text before it
    pushed the insurance number (who is paid) off the end (review 39)."""
    row = (
        "<Dong><PhuongAn>XXXXXXXXXXXXXXX</PhuongAn>"
        "<CheDo>Thai sản khám thai định kỳ lần thứ hai</CheDo>"
        "<SoNgay>180 ngày làm việc liên tục</SoNgay>"
        "<MucLuong>8.500.000 đồng theo hợp đồng</MucLuong>"
        "<TuThang>tháng 11 năm 2026</TuThang>"
        "<HoTen>Vũ Thị Mai con bà Nguyễn Thị Hoa ở thôn Đông xã Tây huyện Nam</HoTen>"
        "<MaSoBHXH>7999999999</MaSoBHXH></Dong>"
    )
    document = M01B.replace(
        "<Dong><HoTen>Vũ Thị Mai</HoTen><CheDo>Thai sản</CheDo><SoNgay>180</SoNgay></Dong>".encode(),
        row.encode(),
    )
    (line,) = [v for k, v in shown(document)[1] if k == "Người hưởng 1"]
    assert "mã số BHXH 7999999999" in line, line
    # A month in other digits (mathematical bold) is not Kyso's reading of a month: quoted.
    month = report([employee("An", 1)], inline=True).replace(
        b"<TuThang>11/2026<", "<TuThang>11/𝟐𝟎𝟐𝟔<".encode()
    )
    assert "từ «11/𝟐𝟎𝟐𝟔»" in dict(summarize_xml(month).lines)["Lao động 1"]
