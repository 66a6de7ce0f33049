"""The BHXH-VAN dossier file (``Hoso``) the preparation page exports. Pure logic.

Format (docs/dossier-format.md, schema/hoso.xsd): ``Hoso/NoiDung/{ThongTinIVAN, ThongTinDonVi,
ThongTinHoSo{..., ToKhais/FileToKhai{MaToKhai, TenFile, NoiDungFile=base64(form)}},
DanhSachLaoDong?}`` and an empty ``CKy_Dvi`` where the unit's signature goes.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from portal_stub.errors import PortalError

IVAN_CODE = "KYSO"
IVAN_NAME = "Cổng thử nghiệm Kyso"
PHUONG_AN = {
    "TM": "Tăng mới",
    "TC": "Tăng do chuyển đến",
    "GH": "Giảm hẳn (nghỉ việc)",
    "GC": "Giảm do chuyển đi",
    "DL": "Điều chỉnh mức lương",
    "OF": "Nghỉ không lương, ốm đau từ 14 ngày",
}
GENDERS = ("Nam", "Nữ")
ROW_FIELDS = (
    "HoTen",
    "MaSoBHXH",
    "NgaySinh",
    "GioiTinh",
    "ChucVu",
    "MucLuong",
    "TuThang",
    "PhuongAn",
)
_PERIOD = re.compile(r"^(0[1-9]|1[0-2])/\d{4}$")
_SO_BHXH = re.compile(r"^\d{10}$")
_SALARY = re.compile(r"^[0-9]{1,15}$")


@dataclass(frozen=True)
class Employee:
    """One D02-TS row."""

    HoTen: str
    MaSoBHXH: str
    NgaySinh: str  # YYYY-MM-DD
    GioiTinh: str
    ChucVu: str
    MucLuong: int
    TuThang: str  # MM/YYYY
    PhuongAn: str


@dataclass(frozen=True)
class Unit:
    """The unit block of a dossier."""

    name: str
    unit_code: str
    mst: str
    office_name: str
    contact_name: str
    phone: str
    email: str


def valid_period(period: str) -> bool:
    """MM/YYYY."""
    return bool(_PERIOD.match(period))


def parse_rows(raw_rows: Iterable[dict[str, str]]) -> list[Employee]:
    """Validate D02-TS rows from the page or the API; blank rows are skipped."""
    rows: list[Employee] = []
    for index, raw in enumerate(raw_rows, start=1):
        if not isinstance(raw, dict):  # JSON from the API: a row must be an object
            raise PortalError("FORM_INVALID", {"detail": f"dòng {index}: không phải một dòng"})
        values = {k: str(raw.get(k, "") or "").strip() for k in ROW_FIELDS}
        if not any(values.values()):
            continue
        problems = []
        if not values["HoTen"]:
            problems.append("họ tên")
        if not _SO_BHXH.match(values["MaSoBHXH"]):
            problems.append("mã số BHXH (10 chữ số)")
        try:
            # Kept as YYYY-MM-DD: the page's date field shows nothing for "19900115", and the
            # draft page must show exactly what "Ký và nộp" signs.
            values["NgaySinh"] = dt.date.fromisoformat(values["NgaySinh"]).isoformat()
        except ValueError:
            problems.append("ngày sinh (YYYY-MM-DD)")
        if values["GioiTinh"] not in GENDERS:
            problems.append("giới tính")
        salary = values["MucLuong"].replace(".", "").replace(",", "").replace(" ", "")
        # ASCII digits only ("²".isdigit() is true, int("²") fails), and no salary of 5 000
        # digits (int() refuses past 4 300).
        if not _SALARY.match(salary) or int(salary) <= 0:
            problems.append("mức lương")
        if not valid_period(values["TuThang"]):
            problems.append("từ tháng (MM/YYYY)")
        if values["PhuongAn"] not in PHUONG_AN:
            problems.append("phương án")
        if problems:
            raise PortalError("FORM_INVALID", {"detail": f"dòng {index}: " + ", ".join(problems)})
        rows.append(Employee(**{**values, "MucLuong": int(salary)}))  # type: ignore[arg-type]
    return rows


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def _row_element(parent: etree._Element, stt: int, row: Employee) -> None:
    el = _sub(parent, "NguoiLaoDong")
    _sub(el, "STT", str(stt))
    for name in ROW_FIELDS:
        _sub(el, name, str(getattr(row, name)))


def build_form(
    unit: Unit, period: str, rows: Sequence[Employee], form_code: str = "D02-TS"
) -> bytes:
    """A form file (``ToKhai``) with the employee list and an empty ``Cky``."""
    root = etree.Element("ToKhai", MaToKhai=form_code)
    common = _sub(root, "ThongTinChung")
    _sub(common, "TenDonVi", unit.name)
    _sub(common, "MaDonVi", unit.unit_code)
    _sub(common, "MaSoThue", unit.mst)
    _sub(common, "KyKeKhai", period)
    listing = _sub(root, "DanhSach")
    for stt, row in enumerate(rows, start=1):
        _row_element(listing, stt, row)
    _sub(root, "Cky")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def build_dossier(
    unit: Unit,
    *,
    procedure: str,
    procedure_name: str,
    period: str,
    dossier_number: str,
    created: dt.date,
    rows: Sequence[Employee],
    inline_rows: bool = False,
) -> bytes:
    """The unsigned ``Hoso`` file ("Xuất file BHXH-VAN").

    ``inline_rows`` lists the employees in ``NoiDung/DanhSachLaoDong`` instead of the form file
    (large dossiers are plain XML that way; the benchmark uses it).
    """
    root = etree.Element("Hoso")
    content = _sub(root, "NoiDung")
    ivan = _sub(content, "ThongTinIVAN")
    _sub(ivan, "MaIVAN", IVAN_CODE)
    _sub(ivan, "TenIVAN", IVAN_NAME)
    unit_el = _sub(content, "ThongTinDonVi")
    _sub(unit_el, "TenDoiTuong", unit.name)
    _sub(unit_el, "MaSoBHXH", unit.unit_code)
    _sub(unit_el, "MaSoThue", unit.mst)
    _sub(unit_el, "CoQuanQuanLy", unit.office_name)
    _sub(unit_el, "NguoiLienHe", unit.contact_name)
    _sub(unit_el, "DienThoai", unit.phone)
    _sub(unit_el, "Email", unit.email)
    info = _sub(content, "ThongTinHoSo")
    _sub(info, "TenThuTuc", procedure_name)
    _sub(info, "MaThuTuc", procedure)
    _sub(info, "KyKeKhai", period)
    _sub(info, "NgayLap", created.isoformat())
    _sub(info, "SoHoSo", dossier_number)
    _sub(info, "SoLuongFile", "1")
    forms = _sub(info, "ToKhais")
    form_file = _sub(forms, "FileToKhai")
    _sub(form_file, "MaToKhai", "D02-TS")
    _sub(form_file, "TenFile", "D02-TS.xml")
    # Rows are listed once: in the form file, or (inline_rows) in the envelope, with the form
    # keeping only its header, so that nothing counts them twice.
    form_rows: Sequence[Employee] = () if inline_rows else rows
    _sub(form_file, "NoiDungFile", base64.b64encode(build_form(unit, period, form_rows)).decode())
    if inline_rows:
        listing = _sub(content, "DanhSachLaoDong")
        for stt, row in enumerate(rows, start=1):
            _row_element(listing, stt, row)
    _sub(root, "CKy_Dvi")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
