"""A dossier's procedure is named from Kyso's catalogue of codes, not from the dossier's words.

Red-team finding: the consent read "<MaThuTuc> — <TenThuTuc>", both from the document. With the
code changed to another procedure (the portal acts on the code) and the name kept, it read
"612 — Báo tăng, giảm…": another procedure in a familiar name.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from agent.signing.xml import summarize_xml
from agent.signing.xml.procedures import BHXH_PROCEDURES
from tests.server.test_methods import dossier

NAME_600 = "Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN"
MIGRATIONS = Path(__file__).resolve().parents[2] / "portal_stub" / "migrations"


def with_procedure(code: str | None, name: str | None) -> bytes:
    """The test dossier with this MaThuTuc and TenThuTuc (None: the element left out)."""
    document = dossier().decode()
    document = re.sub(
        "<MaThuTuc>600</MaThuTuc>", f"<MaThuTuc>{code}</MaThuTuc>" if code else "", document
    )
    document = re.sub(
        "<TenThuTuc>[^<]*</TenThuTuc>", f"<TenThuTuc>{name}</TenThuTuc>" if name else "", document
    )
    return document.encode()


def test_the_catalogue_is_the_portals_list_of_dossier_types() -> None:
    db = sqlite3.connect(":memory:")
    for name in ("0001_schema.sql", "0002_catalogues.sql"):
        db.executescript((MIGRATIONS / name).read_text())
    rows = dict(db.execute("SELECT procedure, name FROM dossier_types").fetchall())
    assert rows and rows == BHXH_PROCEDURES


def test_a_known_code_is_named_by_the_catalogue() -> None:
    item = summarize_xml(with_procedure("600", NAME_600))
    assert item.title == f"Hồ sơ 600 — {NAME_600} (D02-TS)"
    assert item.lines[0] == ("Thủ tục", f"600 — {NAME_600}")
    assert not any("tệp tự ghi" in label.lower() for label, _ in item.lines)
    # The same words in other case or spacing are the same name: nothing more to show.
    item = summarize_xml(
        with_procedure("600", "  báo tăng, giảm,  điều chỉnh đóng BHXH, BHYT, BHTN")
    )
    assert len([label for label, _ in item.lines if "tệp" in label.lower()]) == 0


def test_another_known_code_keeps_its_own_name_and_shows_the_files_words_as_such() -> None:
    item = summarize_xml(with_procedure("604", NAME_600))
    assert item.title.startswith(f"Hồ sơ 604 — {BHXH_PROCEDURES['604']}")
    assert NAME_600 not in item.title
    lines = dict(item.lines)
    assert lines["Thủ tục"] == f"604 — {BHXH_PROCEDURES['604']}"
    assert lines["Tệp tự ghi tên khác / the file names it otherwise"] == NAME_600


def test_an_unknown_code_is_said_to_be_unknown() -> None:
    item = summarize_xml(with_procedure("612", NAME_600))
    assert item.title == "Hồ sơ 612 — thủ tục không có trong danh mục của Kyso (D02-TS)"
    lines = dict(item.lines)
    assert lines["Thủ tục"] == "612 — thủ tục không có trong danh mục của Kyso"
    assert lines["Tên thủ tục tệp tự ghi / the file's own name"] == NAME_600
    # A known code with a hidden character is not that code.
    item = summarize_xml(with_procedure("600\u200b", NAME_600))
    assert "không có trong danh mục" in item.title


def test_a_name_without_a_code_is_only_the_files_words() -> None:
    item = summarize_xml(with_procedure(None, NAME_600))
    assert item.title == "Hồ sơ BHXH (D02-TS)"
    assert dict(item.lines)["Tên thủ tục tệp tự ghi / the file's own name"] == NAME_600
    item = summarize_xml(with_procedure(None, None))
    assert item.title == "Hồ sơ BHXH (D02-TS)" and "Thủ tục" not in dict(item.lines)


def add_types(*types: tuple[str, str]) -> bytes:
    """An account request adding these (MaThuTuc, TenThuTuc) dossier types."""
    items = "".join(
        f"<HoSo><MaThuTuc>{code}</MaThuTuc><TenThuTuc>{name}</TenThuTuc></HoSo>"
        for code, name in types
    )
    return (
        "<YeuCauTaiKhoan><ThongTinYeuCau><LoaiYeuCau>DANG_KY_THEM_HO_SO</LoaiYeuCau>"
        "<CongGiaoDich>https://portal.kyso.test</CongGiaoDich></ThongTinYeuCau><ThongTinDonVi>"
        "<TenDonVi>Kyso</TenDonVi><MaSoThue>0101234567</MaSoThue></ThongTinDonVi>"
        f"<NoiDung><DanhSachHoSo>{items}</DanhSachHoSo></NoiDung><CKy_Dvi/></YeuCauTaiKhoan>"
    ).encode()


def test_an_account_request_names_dossier_types_by_code_too() -> None:
    # As the portal writes them: "<code> – <name>", the catalogue's name: nothing more shown.
    item = summarize_xml(add_types(("600", f"600 – {NAME_600}"), ("604", BHXH_PROCEDURES["604"])))
    lines = dict(item.lines)
    assert lines["Loại hồ sơ thêm"] == f"600 – {NAME_600}; 604 – {BHXH_PROCEDURES['604']}"
    assert not any("tệp tự ghi" in label.lower() for label in lines)
    # Another code under 600's name: Kyso's names, and the file's words labelled as such.
    item = summarize_xml(add_types(("612", f"600 – {NAME_600}"), ("604", NAME_600)))
    lines = dict(item.lines)
    assert lines["Loại hồ sơ thêm"] == (
        f"612 – thủ tục không có trong danh mục của Kyso; 604 – {BHXH_PROCEDURES['604']}"
    )
    assert lines["Tệp tự ghi tên khác / the file names it otherwise"].startswith(
        f"600 – {NAME_600}"
    )
    assert item.title.endswith(": 612; 604")
