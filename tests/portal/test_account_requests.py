"""Account requests as signed documents: what the unit is shown before signing (the agent's
summary from the profiles table), what the portal keeps, and times in Vietnam time."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import pytest
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import summarize_xml
from agent.signing.xml.procedures import BHXH_PROCEDURES
from agent.signing.xml.profiles import REQUEST_SUMMARIES, get_profile
from agent.ui.untrusted import render_untrusted
from portal_stub.account_requests import REQUEST_CODES, build_request, content_key
from portal_stub.errors import PortalError
from portal_stub.timefmt import vietnam_iso, when
from tests.portal.helpers import UNIT, PortalDriver

ORIGIN = "https://dichvucong.baohiemxahoi.example"
ACCOUNT = {
    "unit_name": "Công ty TNHH Giải pháp Kyso Việt Nam",
    "mst": "0101234567",
    "unit_code": "TA0101234",
    "username": "0101234567",
    "office_code": "01001",
    "address": "Số 1 Liễu Giai, Ba Đình, Hà Nội",
    "contact_name": "Trần Thị Mai",
    "phone": "024 3999 1234",
    "email": "ketoan@kyso-demo.vn",
    "cert_subject": "CN=Công ty TNHH Giải pháp Kyso Việt Nam",
    "cert_thumbprint": "ab" * 32,
}
CATALOGUE = {"600": "Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN", "601": "Cấp sổ BHXH"}
OFFICES = {"01001": "BHXH quận Ba Đình", "01005": "BHXH quận Hoàn Kiếm"}
AT = dt.datetime(2026, 12, 4, 18, 30, tzinfo=dt.UTC)  # 01:30 on 5 December in Hà Nội


def _request(action: str, fields: dict[str, Any], account: Any = ACCOUNT, **kw: Any) -> bytes:
    return build_request(
        action,
        fields,
        nonce="n" * 43,
        origin=ORIGIN,
        at=AT,
        account=account,
        catalogue=CATALOGUE,
        offices=OFFICES,
        **kw,
    )


def _details(**changes: str) -> dict[str, str]:
    return {
        "ten_don_vi": ACCOUNT["unit_name"],
        "co_quan_bhxh": ACCOUNT["office_code"],
        "dia_chi": ACCOUNT["address"],
        "nguoi_lien_he": ACCOUNT["contact_name"],
        "dien_thoai": ACCOUNT["phone"],
        "email": ACCOUNT["email"],
        **changes,
    }


def test_every_action_has_a_sentence_in_the_profiles_table() -> None:
    assert set(REQUEST_CODES.values()) <= set(REQUEST_SUMMARIES)


def test_cancel_is_worded_with_unit_mst_and_reason() -> None:
    doc = _request(
        "cancel",
        {"ly_do": "03", "ly_do_text": "Đơn vị tạm ngừng sản xuất, kinh doanh", "ghi_chu": "Tết"},
    )
    item = summarize_xml(doc, origin=ORIGIN)
    assert item.title == (
        "Ngưng sử dụng dịch vụ giao dịch điện tử — đơn vị Công ty TNHH Giải pháp Kyso Việt Nam, "
        "MST 0101234567, lý do: Đơn vị tạm ngừng sản xuất, kinh doanh"
    )
    lines = dict(item.lines)
    assert lines["Ghi chú"] == "Tết"
    assert lines["Cổng giao dịch"] == ORIGIN
    assert lines["Thời gian lập"] == "05/12/2026 01:30:00 (giờ Việt Nam)"
    assert item.sha256 == hashlib.sha256(doc).hexdigest()
    assert "yêu cầu gửi ký" in item.sha256_label


def test_each_action_reads_differently() -> None:
    titles = {
        summarize_xml(_request("add-types", {"loai_ho_so": ["601"]})).title,
        summarize_xml(_request("stop-types", {"loai_ho_so": ["601"]})).title,
        summarize_xml(_request("change-details", _details(dien_thoai="0987654321"))).title,
        summarize_xml(_request("change-certificate", {})).title,
        summarize_xml(
            _request("cancel", {"ly_do": "01", "ly_do_text": "Giải thể", "ghi_chu": ""})
        ).title,
        summarize_xml(
            _request(
                "register",
                {**UNIT, "loai_ho_so": ["600"]},
                account=None,
            )
        ).title,
    }
    assert len(titles) == 6
    assert not any("Đăng nhập" in t for t in titles)


def test_a_change_of_details_shows_each_field_before_and_after() -> None:
    doc = _request("change-details", _details(dien_thoai="0987654321", co_quan_bhxh="01005"))
    item = summarize_xml(doc)
    lines = dict(item.lines)
    assert lines["Điện thoại"] == "024 3999 1234 → 0987654321"
    assert lines["Cơ quan BHXH quản lý"] == "BHXH quận Ba Đình → BHXH quận Hoàn Kiếm"
    assert "Địa chỉ" not in lines  # unchanged fields are not listed
    assert item.title.endswith(": Cơ quan BHXH quản lý, Điện thoại")


def test_a_change_that_changes_nothing_is_refused_before_signing() -> None:
    with pytest.raises(PortalError) as caught:
        _request("change-details", _details())
    assert caught.value.code == "E106"


def test_registration_names_the_types_and_the_account_mail() -> None:
    item = summarize_xml(_request("register", {**UNIT, "loai_ho_so": ["600", "601"]}, account=None))
    lines = dict(item.lines)
    assert item.title.endswith("loại hồ sơ: 600; 601")
    assert lines["Thư nhận tài khoản"] == UNIT["email"]
    # Named from Kyso's catalogue by code; this portal's other name for 601 is the file's words.
    assert lines["Loại hồ sơ"] == f"600 – {CATALOGUE['600']}; 601 – {BHXH_PROCEDURES['601']}"
    assert CATALOGUE["601"] in lines["Tệp tự ghi tên khác / the file names it otherwise"]


def test_values_are_one_short_line_each() -> None:
    doc = _request(
        "cancel", {"ly_do": "04", "ly_do_text": "Lý do khác", "ghi_chu": "a\nb\r\n\tc " + "x" * 500}
    )
    note = dict(summarize_xml(doc).lines)["Ghi chú"]
    assert note.startswith("a b c x") and "\n" not in note and "\t" not in note
    assert len(note) <= 160 and note.endswith("…")
    # A right-to-left override or a zero-width space cannot reorder or hide what is shown: kept
    # in the value, the dialog shows each as a tag (tests/signing_xml/test_summary_invisible.py).
    doc = _request(
        "cancel", {"ly_do": "04", "ly_do_text": "Lý do khác", "ghi_chu": "abc\u202edef\u200bg"}
    )
    note = dict(summarize_xml(doc).lines)["Ghi chú"]
    assert render_untrusted(note) == "abc<U+202E>def<U+200B>g"


def test_a_request_for_another_portal_is_refused_by_the_summary() -> None:
    doc = _request("add-types", {"loai_ho_so": ["601"]})
    with pytest.raises(KysoError) as caught:
        summarize_xml(doc, origin="https://bhxh-gia-mao.example")
    assert caught.value.code == "XML_REQUEST_ORIGIN_MISMATCH"
    assert ORIGIN in caught.value.message_vi
    summarize_xml(doc, origin=ORIGIN + "/")  # the same origin, written with a slash


def test_an_unknown_request_type_is_never_vague() -> None:
    doc = _request("add-types", {"loai_ho_so": ["601"]}).replace(
        b"DANG_KY_THEM_HO_SO", b"CHUYEN_TIEN"
    )
    item = summarize_xml(doc)
    assert "CHUYEN_TIEN" in item.title and "không có trong danh mục" in item.title


def test_the_bhxh_profile_places_the_signature_by_table() -> None:
    root = etree.fromstring(_request("add-types", {"loai_ho_so": ["601"]}))
    placement = get_profile("bhxh").placement_for(root)
    assert (placement.root, placement.container) == ("YeuCauTaiKhoan", "CKy_Dvi")


def test_content_key_ignores_only_the_signature_container() -> None:
    doc = _request("add-types", {"loai_ho_so": ["601"]})
    signed_like = doc.replace(b"<CKy_Dvi/>", b"<CKy_Dvi>\n  <x:Sig xmlns:x='urn:x'/>\n</CKy_Dvi>")
    assert content_key(etree.fromstring(signed_like)) == content_key(etree.fromstring(doc))
    other = doc.replace(b"<MaThuTuc>601<", b"<MaThuTuc>600<")
    assert content_key(etree.fromstring(other)) != content_key(etree.fromstring(doc))


def test_times_are_in_vietnam_time_and_labelled() -> None:
    assert when("2026-12-04T18:30:00+00:00") == "05/12/2026 01:30 (giờ Việt Nam)"
    assert when("2026-12-04T18:30:00") == "05/12/2026 01:30 (giờ Việt Nam)"  # stored UTC
    assert when("2026-12-04") == "04/12/2026"  # a date alone is not shifted
    assert vietnam_iso(AT) == "2026-12-05T01:30:00+07:00"


async def test_history_keeps_each_signed_request(portal: PortalDriver) -> None:
    await portal.register_and_login()
    status, body = await portal.signed(
        "/api/v1/account/types/add", "add-types", {"loai_ho_so": ["601"]}
    )
    assert status == 200, body
    status, history = await portal.request("GET", "/api/v1/account/history")
    assert status == 200
    newest, first = history["events"][0], history["events"][-1]
    assert newest["action"] == "add-types" and first["action"] == "register"
    assert newest["summary"].startswith("Đăng ký thêm loại hồ sơ giao dịch điện tử — đơn vị")
    assert newest["at"].endswith("+07:00")
    assert newest["signed_request_sha256"] == body["request_sha256"]
    status, stored = await portal.request("GET", newest["signed_request_url"])
    assert status == 200 and hashlib.sha256(stored).hexdigest() == body["request_sha256"]
    assert b"<MaThuTuc>601</MaThuTuc>" in stored and b"SignatureValue" in stored


async def test_another_units_history_is_not_served(portal: PortalDriver) -> None:
    await portal.register_and_login()
    _, history = await portal.request("GET", "/api/v1/account/history")
    url = history["events"][0]["signed_request_url"]
    portal.headers.clear()
    status, body = await portal.request("GET", url)
    assert status == 401
    # A second unit, logged in, asking for the first unit's request by number.
    status, reg = await portal.signed(
        "/api/v1/register",
        "register",
        {**UNIT, "ma_so_thue": "0101234567-001", "ma_don_vi": "TA0101235", "email": "cn@kyso.vn"},
        "branch",
    )
    assert status == 200, reg
    await portal.login(reg["username"], await portal.mailed_password("cn@kyso.vn") or "")
    status, body = await portal.request("GET", url)
    assert status == 404 and body["error"]["code"] == "E107"


async def test_a_change_of_details_that_changes_nothing_gets_no_challenge(
    portal: PortalDriver,
) -> None:
    await portal.register_and_login()
    same = {k: UNIT[k] for k in ("ten_don_vi", "co_quan_bhxh", "dia_chi", "nguoi_lien_he")}
    same |= {"dien_thoai": UNIT["dien_thoai"], "email": UNIT["email"]}
    status, body = await portal.request(
        "POST", "/api/v1/challenge", json={"action": "change-details", "fields": same}
    )
    assert status == 400 and body["error"]["code"] == "E106"


async def test_the_request_carries_the_portal_origin_and_nonce(portal: PortalDriver) -> None:
    status, body = await portal.request(
        "POST", "/api/v1/challenge", json={"action": "register", "fields": UNIT}
    )
    assert status == 200
    root = etree.fromstring(base64.b64decode(body["request"]))
    assert root.findtext("ThongTinYeuCau/CongGiaoDich") == portal.origin
    assert root.findtext("ThongTinYeuCau/MaXacThuc") == body["nonce"]
    assert root.findtext("ThongTinYeuCau/LoaiYeuCau") == "DANG_KY"
    assert root.findtext("ThongTinYeuCau/ThoiGianLap").endswith("+07:00")  # type: ignore[union-attr]
