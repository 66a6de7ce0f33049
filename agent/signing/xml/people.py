"""The people a BHXH dossier is about, one consent line each (a D02-TS's employees, an
M01B-HSB's beneficiaries, a TK1-TS's person), and the totals every row counts in. Pure logic."""

from __future__ import annotations

import re

from lxml import etree

from agent.signing.xml.procedures import BHXH_PLANS
from agent.signing.xml.reading import field_value, one_line, quoted

# Employees (or the people a form is about) shown one per line in the consent; past these the
# dialog says how many more there are. The details box scrolls: a monthly report of a
# company's staff is listed whole, so no unlisted row can change unseen.
ROWS_SHOWN = 100


# Every value of a row is page text. Numbers and months Kyso can read are shown in its own
# words ("180 ngày", "lương 8.500.000 đồng", "từ 11/2026"); anything else, and every name, is
# quoted «…» and cut short, so no value can pass for Kyso's words or push them out of the line.
# Kyso's words come first and the name last: a name written "An · Tăng mới (TM) · lương
# 8.500.000 đồng" cannot read as the row's change and salary.
_MONTH = re.compile(r"(0?[1-9]|1[0-2])/[0-9]{4}")  # ASCII digits only: "𝟐𝟎𝟐𝟓" is quoted
# A row's element -> the label of its line.
_ROW_LABELS = {"NguoiLaoDong": "Lao động", "Dong": "Người hưởng", "ThongTinNguoiThamGia": "Người"}


def plan_words(plan: str) -> str:
    """A row's change (PhuongAn) in Kyso's words, or the unknown code quoted."""
    known = BHXH_PLANS.get(plan)
    return (
        f"{known} ({plan})" if known else f"phương án {quoted(plan, 12)} (Kyso không biết mã này)"
    )


def _employee_line(row: etree._Element) -> str:
    """One person's row as a person reads it: "Tăng mới (TM) · lương 8.500.000 đồng · từ
    11/2026 · mã số BHXH 0123456789 · «Nguyễn Văn An»"; each field read where the portal reads
    it (ambiguous: refused)."""
    parts = []
    plan = field_value(row, ("PhuongAn",))
    if plan:
        parts.append(plan_words(plan))
    benefit = field_value(row, ("CheDo",))
    if benefit:
        parts.append(f"chế độ {quoted(benefit, 30)}")
    days = field_value(row, ("SoNgay",))
    if days:
        parts.append(f"{int(days)} ngày" if _digits(days) else f"số ngày {quoted(days, 16)}")
    salary = field_value(row, ("MucLuong",))
    if salary:
        parts.append(f"lương {_money(salary) if _digits(salary) else quoted(salary, 30)}")
    since = field_value(row, ("TuThang",))
    if since:
        parts.append(f"từ {since if _MONTH.fullmatch(since) else quoted(since, 12)}")
    # Who it is, by the numbers the office knows the person by, before the name: the line is
    # cut at its end, and a long name or value must not push the insurance number out.
    for tag, words in (("MaSoBHXH", "mã số BHXH"), ("SoCCCD", "CCCD"), ("NgaySinh", "sinh")):
        value = field_value(row, (tag,))
        if value:
            plain = len(value) <= 16 and all(c in "0123456789-/" for c in value)
            parts.append(f"{words} {value if plain else quoted(value, 20)}")
    name = field_value(row, ("HoTen",))
    parts.append(quoted(name, 60) if name else "(không ghi tên)")
    return " · ".join(parts)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 15


def _money(text: str) -> str:
    """Whole đồng with Vietnamese thousands dots; anything else exactly as written."""
    if not text.isascii() or not text.isdigit():
        return text
    return f"{int(text):,} đồng".replace(",", ".")


def people_lines(rows: list[etree._Element]) -> list[tuple[str, str]]:
    lines = [
        (f"{_ROW_LABELS.get(etree.QName(row).localname, 'Người')} {i}", _employee_line(row))
        for i, row in enumerate(rows[:ROWS_SHOWN], 1)
    ]
    more = len(rows) - ROWS_SHOWN
    if more > 0:
        lines.append(("Người khác", f"{more} người nữa, không liệt kê ở đây"))
    if len(rows) > 1:
        lines += _totals(rows)
    return lines


def _totals(rows: list[etree._Element]) -> list[tuple[str, str]]:
    """Lines every row counts in, the unlisted too: how many per change, the salaries' and the
    benefit days' totals. A change anywhere shows here, to compare with the payroll."""
    lines: list[tuple[str, str]] = []
    plans = [field_value(row, ("PhuongAn",)) for row in rows]
    if any(plans):
        counts: dict[str, int] = {}
        for plan in plans:
            shown = plan_words(plan) if plan else "không ghi"
            counts[shown] = counts.get(shown, 0) + 1
        # Kyso's own names first: unknown codes (page text) after them, never pushing them out.
        ordered = sorted(counts.items(), key=lambda kv: kv[0].startswith("phương án «"))
        lines.append(("Theo phương án", one_line(" · ".join(f"{k}: {n}" for k, n in ordered))))
    for tag, label, unit in (
        ("MucLuong", "Tổng mức lương", "lao động"),
        ("SoNgay", "Tổng số ngày", "người"),
    ):
        values = [field_value(row, (tag,)) or "" for row in rows]
        if not any(values):
            continue
        if all(_digits(v) for v in values):
            total = sum(int(v) for v in values)
            shown = _money(str(total)) if tag == "MucLuong" else f"{total} ngày"
            lines.append((label, f"{shown} ({len(rows)} {unit})"))
        else:
            lines.append((label, "không tính được: có giá trị không phải số"))
    return lines
