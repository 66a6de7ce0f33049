"""The people a BHXH dossier is about, one consent line each (a D02-TS's employees, an
M01B-HSB's beneficiaries, a TK1-TS's person), and the totals every row counts in. Pure logic."""

from __future__ import annotations

from lxml import etree

from agent.signing.xml.procedures import BHXH_PLANS
from agent.signing.xml.reading import field_value, one_line

# Employees (or the people a form is about) shown one per line in the consent; past these the
# dialog says how many more there are. The details box scrolls: a monthly report of a
# company's staff is listed whole, so no unlisted row can change unseen.
ROWS_SHOWN = 100


# Each part of a person's line has its own length, so a long value cannot push the others out
# of sight. Kyso's words (the change, the salary, the days) come first and the name, page
# text, last: a name written as "An · Tăng mới (TM) · lương 8.500.000 đồng" cannot read as
# the row's change and salary.
_PERSON_PARTS = {
    "plan": 70,
    "benefit": 40,
    "days": 20,
    "salary": 40,
    "since": 20,
    "name": 60,
    "id": 30,
    "born": 20,
}
# A row's element -> the label of its line.
_ROW_LABELS = {"NguoiLaoDong": "Lao động", "Dong": "Người hưởng", "ThongTinNguoiThamGia": "Người"}


def _employee_line(row: etree._Element) -> str:
    """One person's row as a person reads it: "Tăng mới (TM) · lương 8.500.000 đồng · từ
    11/2026 · «Nguyễn Văn An» · mã số BHXH 0123456789"; each field read where the portal reads
    it (ambiguous: refused)."""
    parts = []
    plan = field_value(row, ("PhuongAn",))
    if plan:
        known = BHXH_PLANS.get(plan)
        shown = f"{known} ({plan})" if known else f"phương án {plan} (Kyso không biết mã này)"
        parts.append(one_line(shown, _PERSON_PARTS["plan"]))
    benefit = field_value(row, ("CheDo",))
    if benefit:
        parts.append(one_line(f"chế độ {benefit}", _PERSON_PARTS["benefit"]))
    days = field_value(row, ("SoNgay",))
    if days:
        parts.append(one_line(f"{days} ngày", _PERSON_PARTS["days"]))
    salary = field_value(row, ("MucLuong",))
    if salary:
        parts.append(one_line(f"lương {_money(salary)}", _PERSON_PARTS["salary"]))
    since = field_value(row, ("TuThang",))
    if since:
        parts.append(one_line(f"từ {since}", _PERSON_PARTS["since"]))
    name = field_value(row, ("HoTen",))
    parts.append(f"«{one_line(name, _PERSON_PARTS['name'])}»" if name else "(không ghi tên)")
    for tag, words, part in (
        ("MaSoBHXH", "mã số BHXH", "id"),
        ("SoCCCD", "CCCD", "id"),
        ("NgaySinh", "sinh", "born"),
    ):
        value = field_value(row, (tag,))
        if value:
            parts.append(one_line(f"{words} {value}", _PERSON_PARTS[part]))
    return " · ".join(parts)


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
            shown = BHXH_PLANS.get(plan, f"phương án {plan}") if plan else "không ghi"
            counts[shown] = counts.get(shown, 0) + 1
        lines.append(
            ("Theo phương án", one_line(" · ".join(f"{k}: {n}" for k, n in counts.items())))
        )
    for tag, label, unit in (
        ("MucLuong", "Tổng mức lương", "lao động"),
        ("SoNgay", "Tổng số ngày", "người"),
    ):
        values = [field_value(row, (tag,)) or "" for row in rows]
        if not any(values):
            continue
        if all(v.isascii() and v.isdigit() for v in values):
            total = sum(int(v) for v in values)
            shown = _money(str(total)) if tag == "MucLuong" else f"{total} ngày"
            lines.append((label, f"{shown} ({len(rows)} {unit})"))
        else:
            lines.append((label, "không tính được: có giá trị không phải số"))
    return lines
