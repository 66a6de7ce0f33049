"""The BHXH procedures Kyso knows: procedure code (``MaThuTuc``) -> its name. Pure data.

The portal acts on a dossier's code; the name a dossier writes beside it (``TenThuTuc``) is the
file's own words, which nobody checks against the code. So the consent names a procedure from
this table, and shows the file's words only as such (agent/signing/xml/summary.py).

Source: the "Danh mục hồ sơ" (dossier types that can be filed online) of Kyso's portal
(portal_stub/migrations/0002_catalogues.sql); tests/signing_xml/test_procedure_names.py checks
that the two agree. A code missing here is shown as "not in Kyso's catalogue", never guessed.
"""

from __future__ import annotations

BHXH_PROCEDURES: dict[str, str] = {
    "600": "Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN",
    "601": "Cấp lại, đổi, điều chỉnh thông tin trên sổ BHXH, thẻ BHYT",
    "602": "Truy đóng BHXH bắt buộc, BHTN",
    "604": "Đăng ký đóng, cấp thẻ BHYT đối với người chỉ tham gia BHYT",
    "607": "Đăng ký, điều chỉnh đóng BHXH bắt buộc đối với đơn vị",
    "630a": "Giải quyết hưởng chế độ ốm đau",
    "630b": "Giải quyết hưởng chế độ thai sản",
    "630c": "Giải quyết hưởng trợ cấp dưỡng sức, phục hồi sức khỏe",
}

# An employee row's change (``PhuongAn`` of a D02-TS row) -> its name. Source: the portal's
# D02-TS form (portal_stub/dossier_xml.py PHUONG_AN); tests/signing_xml/test_procedure_names.py
# checks that the two agree. A code missing here is shown as unknown, never guessed.
BHXH_PLANS: dict[str, str] = {
    "TM": "Tăng mới",
    "TC": "Tăng do chuyển đến",
    "GH": "Giảm hẳn (nghỉ việc)",
    "GC": "Giảm do chuyển đi",
    "DL": "Điều chỉnh mức lương",
    "OF": "Nghỉ không lương, ốm đau từ 14 ngày",
}
