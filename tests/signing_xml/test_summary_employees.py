"""The consent names the employees a report is about, not only how many there are.

Browser red team: a D02-TS row edited from "Nguyễn Văn An, 8 500 000 đ" to "Lê Thị Bình,
99 000 000 đ" changed nothing the consent showed (procedure, unit, MST, period, count, SHA-256).
Now each of the first rows is a line (name, change, salary, from when), from the envelope's own
list or from the base64 form files, read where the portal reads them; past those, how many more.
"""

from __future__ import annotations

import datetime as dt

import pytest

from agent.errors import KysoError
from agent.signing.xml import summarize_xml
from agent.signing.xml.procedures import BHXH_PLANS
from agent.signing.xml.summary import ROWS_SHOWN
from portal_stub.dossier_xml import PHUONG_AN, Employee, Unit, build_dossier

UNIT = Unit(
    name="Công ty TNHH Giải pháp Kyso Việt Nam",
    unit_code="TA0101234",
    mst="0101234567",
    office_name="BHXH quận Ba Đình",
    contact_name="Trần Thị Mai",
    phone="0912345678",
    email="ketoan@kyso.test",
)


def employee(name: str, salary: int, plan: str = "TM") -> Employee:
    return Employee(name, "0123456789", "1990-01-15", "Nam", "Kế toán", salary, "11/2026", plan)


def report(rows: list[Employee], *, inline: bool = False) -> bytes:
    return build_dossier(
        UNIT,
        procedure="600",
        procedure_name="Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN",
        period="11/2026",
        dossier_number="HS-1",
        created=dt.date(2026, 11, 24),
        rows=rows,
        inline_rows=inline,
    )


def employee_lines(document: bytes) -> list[tuple[str, str]]:
    return [line for line in summarize_xml(document).lines if line[0].startswith("Lao động")]


@pytest.mark.parametrize("inline", [False, True], ids=["in the form file", "in the envelope"])
def test_each_employee_is_a_line_of_the_consent(inline: bool) -> None:
    before = employee_lines(report([employee("Nguyễn Văn An", 8_500_000)], inline=inline))
    after = employee_lines(report([employee("Lê Thị Bình", 99_000_000, "DL")], inline=inline))
    who = "mã số BHXH 0123456789 · sinh 1990-01-15"
    assert before == [
        (
            "Lao động 1",
            f"Tăng mới (TM) · lương 8.500.000 đồng · từ 11/2026 · {who} · «Nguyễn Văn An»",
        )
    ]
    assert after == [
        (
            "Lao động 1",
            "Điều chỉnh mức lương (DL) · lương 99.000.000 đồng · từ 11/2026 · "
            + who
            + " · «Lê Thị Bình»",
        )
    ]


def test_past_the_first_rows_the_consent_says_how_many_more() -> None:
    rows = [employee(f"Người {i}", 5_000_000 + i) for i in range(ROWS_SHOWN + 7)]
    lines = employee_lines(report(rows))
    assert [label for label, _ in lines] == [
        *(f"Lao động {i}" for i in range(1, ROWS_SHOWN + 1))
    ]  # "Người khác" is not a "Lao động" line
    assert dict(summarize_xml(report(rows)).lines)["Người khác"].startswith("7 người nữa")
    shown = dict(summarize_xml(report(rows)).lines)
    assert shown["Số lao động"] == str(ROWS_SHOWN + 7)
    # The rows not listed still count in the total: a changed salary there shows.
    total = sum(5_000_000 + i for i in range(ROWS_SHOWN + 7))
    assert shown["Tổng mức lương"] == f"{total:,} đồng ({ROWS_SHOWN + 7} lao động)".replace(
        ",", "."
    )
    rows[-1] = employee("Người cuối", 99_000_000)
    assert dict(summarize_xml(report(rows)).lines)["Tổng mức lương"] != shown["Tổng mức lương"]


def test_employee_lists_in_both_the_dossier_and_its_form_are_refused() -> None:
    """Red team: five rows in the envelope, five others at 1 000 đồng in the D02-TS form; the
    consent listed the first, the form's reader gets the second."""
    inline = report([employee("Nguyễn Văn An", 8_500_000)], inline=True)
    in_form = report([employee("Lê Thị Bình", 1_000)])
    form_file = in_form.split(b"<NoiDungFile>")[1].split(b"</NoiDungFile>")[0]
    head, rest = inline.split(b"<NoiDungFile>")
    both = (
        head + b"<NoiDungFile>" + form_file + b"</NoiDungFile>" + rest.split(b"</NoiDungFile>")[1]
    )
    with pytest.raises(KysoError) as err:
        summarize_xml(both)
    assert err.value.code == "XML_FIELD_AMBIGUOUS" and "DanhSachLaoDong" in str(err.value.details)


def test_an_unknown_change_code_is_said_to_be_unknown_and_odd_salaries_shown_as_written() -> None:
    document = report([employee("An", 1)], inline=True)
    document = document.replace(b"<MucLuong>1<", b"<MucLuong>1e9<")
    document = document.replace(b"<PhuongAn>TM<", b"<PhuongAn>ZZ<")
    ((_, line),) = employee_lines(document)
    assert "phương án «ZZ» (Kyso không biết mã này)" in line and "lương «1e9»" in line


def test_a_row_with_two_names_is_refused_not_guessed() -> None:
    document = report([employee("An", 1)], inline=True).replace(
        b"<HoTen>An</HoTen>", b"<HoTen>An</HoTen><HoTen>Binh</HoTen>"
    )
    with pytest.raises(KysoError) as err:
        summarize_xml(document)
    assert err.value.code == "XML_FIELD_AMBIGUOUS"


def test_the_change_names_are_the_portals() -> None:
    assert BHXH_PLANS == PHUONG_AN


@pytest.mark.parametrize(
    "name",
    [
        "Nguyễn Văn An" + "\u00a0" * 200,  # no-break spaces: one space on screen
        "Nguyễn Văn An" + "\u3000 \u2028" * 80,  # ideographic, line separator
        "Nguyễn Văn An " + "X" * 300,  # a visible but absurdly long name
        "Nguyễn Văn An" + "\u200b" * 47,  # zero-width: an 8-character tag each on screen
        "Nguyễn Văn An" + "\u202e\u2060\u00ad" * 16,  # bidi override, word joiner, soft hyphen
    ],
    ids=["nbsp", "ideographic", "long", "zero-width", "format"],
)
@pytest.mark.parametrize("inline", [False, True], ids=["in the form file", "in the envelope"])
def test_a_padded_or_long_name_never_hides_the_change_or_the_salary(
    name: str, inline: bool
) -> None:
    from agent.ui.untrusted import VALUE_LIMIT, render_untrusted

    lines = employee_lines(report([employee(name, 99_000_000, "GH")], inline=inline))
    ((_label, value),) = lines
    shown = render_untrusted(value, VALUE_LIMIT)  # as the dialog shows it
    for part in (BHXH_PLANS["GH"], "lương 99.000.000 đồng", "từ 11/2026"):
        assert part in shown, shown
