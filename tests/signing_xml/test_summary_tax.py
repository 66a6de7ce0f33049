"""A tax return's consent says which declaration it is, original or supplement, and its
figures (red team 36: a VAT return and a supplementary return of another form with 40 times
the tax read the same: taxpayer, MST and period only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import KysoError
from agent.signing.xml import summarize_xml
from agent.signing.xml.tax import FILE_FORM_NAME
from tests.signing_xml.test_summary_people import shown

HTKK = (
    Path(__file__).resolve().parents[1] / "fixtures" / "xml" / "tax" / "htkk-01GTGT.xml"
).read_bytes()


def _changed(old: bytes, new: bytes) -> bytes:
    assert HTKK.count(old) == 1
    return HTKK.replace(old, new)


def test_the_declaration_its_kind_and_its_figures_are_shown() -> None:
    item = summarize_xml(HTKK)
    assert item.title == "Hồ sơ khai thuế điện tử — tờ khai mã 842"
    lines = dict(item.lines)
    assert lines["Mã tờ khai"] == "842"
    assert lines[FILE_FORM_NAME] == "Tờ khai thuế giá trị gia tăng (Mẫu số 01/GTGT)"
    assert lines["Loại tờ khai"] == "chính thức (C)"
    assert lines["Chỉ tiêu [40]"] == "22.831.497"
    assert lines["Chỉ tiêu [23]"] == "323.050.463"  # inside a group of indicators too


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<maTKhai>842</maTKhai>", b"<maTKhai>892</maTKhai>"),
        (b"<loaiTKhai>C</loaiTKhai>", b"<loaiTKhai>B</loaiTKhai>"),
        (b"<ct40>22831497</ct40>", b"<ct40>922831497</ct40>"),
        (b"<ct24>5102437</ct24>", b"<ct24>5102438</ct24>"),
    ],
    ids=["another declaration", "a supplement", "the tax payable", "another figure"],
)
def test_two_returns_that_differ_read_differently(old: bytes, new: bytes) -> None:
    assert shown(HTKK) != shown(_changed(old, new))


def test_a_supplement_says_which_one() -> None:
    document = _changed(b"<loaiTKhai>C</loaiTKhai>", b"<loaiTKhai>B</loaiTKhai>").replace(
        b"<soLan>0</soLan>", b"<soLan>2</soLan>"
    )
    assert dict(summarize_xml(document).lines)["Loại tờ khai"] == "bổ sung lần 2 (B)"
    odd = _changed(b"<loaiTKhai>C</loaiTKhai>", b"<loaiTKhai>X</loaiTKhai>")
    assert "Kyso không biết" in dict(summarize_xml(odd).lines)["Loại tờ khai"]


@pytest.mark.parametrize(
    "extra",
    [b"<ct40>1</ct40>", b'<ct40 xmlns="urn:other">1</ct40>', b"<ct040>1</ct040>"],
    ids=["twice", "foreign namespace", "same number written otherwise"],
)
def test_an_indicator_a_reader_could_take_two_ways_is_refused(extra: bytes) -> None:
    document = _changed(b"<ct40>22831497</ct40>", b"<ct40>22831497</ct40>" + extra)
    with pytest.raises(KysoError) as refused:
        summarize_xml(document)
    assert refused.value.code == "XML_FIELD_AMBIGUOUS"


def test_an_indicator_that_is_no_number_is_quoted_as_the_files_words() -> None:
    document = _changed(b"<ct40>22831497</ct40>", "<ct40>0 · Chỉ tiêu [41]: 5</ct40>".encode())
    assert dict(summarize_xml(document).lines)["Chỉ tiêu [40]"] == "«0 · Chỉ tiêu [41]: 5»"


def test_huge_numbers_and_names_are_no_crash() -> None:
    """int() refuses 5000 digits (ValueError, an INTERNAL_ERROR): review 38."""
    digits = "9" * 5000
    huge = summarize_xml(_changed(b"<ct40>22831497</ct40>", f"<ct40>{digits}</ct40>".encode()))
    assert dict(huge.lines)["Chỉ tiêu [40]"].startswith("«999")
    named = summarize_xml(
        _changed(b"<ct40>22831497</ct40>", f"<ct{digits}>1</ct{digits}>".encode())
    )
    assert "Chỉ tiêu [40]" not in dict(named.lines)  # not an indicator Kyso names


def test_a_return_with_more_indicators_than_kyso_shows_is_refused() -> None:
    """Padding indicators pushed ct40 past the 80 shown (review 38): all are shown, or none."""
    from agent.signing.xml.tax import MAX_INDICATORS

    padding = b"".join(f"<ct{900 + i}>0</ct{900 + i}>".encode() for i in range(MAX_INDICATORS))
    with pytest.raises(KysoError) as refused:
        summarize_xml(_changed(b"<ct22>3366060</ct22>", padding + b"<ct22>3366060</ct22>"))
    assert refused.value.code == "XML_FIELD_AMBIGUOUS"
