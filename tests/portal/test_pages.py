"""The server-rendered pages: walkthrough labels, signing hooks for the bridge, and a signed
page flow done the way portal-sign.js does it (challenge from the form, then native submit)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from tests.portal.helpers import ROWS, UNIT, PortalDriver

LABELS = {
    "/": [
        "Đăng ký",
        "Tài khoản",
        "Đăng ký thêm hồ sơ",
        "Đăng ký ngừng hồ sơ",
        "Ngưng dịch vụ",
        "Thay đổi thông tin",
        "Nộp hồ sơ",
        "Tra cứu",
        "Tra cứu hồ sơ",
        "Nhận thông báo",
        "Danh mục cơ quan BHXH",
        "Danh mục hồ sơ",
        "Danh mục mã lỗi",
    ],
    "/tra-cuu/danh-muc-co-quan-bhxh": ["BHXH quận Ba Đình", "BHXH Thành phố Hồ Chí Minh"],
    "/tra-cuu/danh-muc-ho-so": [
        "600",
        "D02-TS",
        "Báo tăng, giảm, điều chỉnh đóng BHXH, BHYT, BHTN",
    ],
    "/tra-cuu/danh-muc-ma-loi": ["E404", "Hồ sơ chưa được ký số.", "E405"],
}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def _get(portal: PortalDriver, path: str) -> str:
    resp = await portal.client.get(path)
    assert resp.status == 200, path
    assert "Content-Security-Policy" in resp.headers
    return await resp.text()


async def test_public_pages_use_the_walkthrough_labels(portal: PortalDriver) -> None:
    for path, labels in LABELS.items():
        html = await _get(portal, path)
        for label in labels:
            assert label in html, (path, label)
    html = await _get(portal, "/dang-ky")
    assert 'data-kyso-action="register"' in html
    assert 'data-kyso-challenge-url="/api/v1/challenge?action=register"' in html
    assert 'name="signed_request"' in html and 'class="kyso-status" role="status"' in html
    assert '<script type="module" src="/static/portal-sign.js"></script>' in html
    assert ">Đăng ký</button>" in html


async def test_private_pages_redirect_to_login(portal: PortalDriver) -> None:
    resp = await portal.client.get("/tai-khoan", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/dang-nhap")


async def _sign_form(
    portal: PortalDriver, action: str, form: dict[str, Any], csrf: str, cert: str = "org"
) -> dict[str, Any]:
    """What portal-sign.js does: post the form to the challenge URL, sign the request document
    it answers with (sign.xml, profile bhxh), put the signed file in the form."""
    resp = await portal.client.post(
        f"/api/v1/challenge?action={action}", data=_form_items(form), headers={"X-CSRF-Token": csrf}
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["profile"] == "bhxh"
    signed = await portal.sign_request(cert, base64.b64decode(body["request"]))
    return {**form, "signed_request": signed}


def _form_items(values: dict[str, Any]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in values.items():
        for v in value if isinstance(value, list) else [value]:
            items.append((key, v))
    return items


async def test_signed_page_flow_like_the_bridge(portal: PortalDriver) -> None:
    html = await _get(portal, "/dang-ky")
    csrf = _csrf(html)
    form = {**UNIT, "loai_ho_so": ["600", "601"], "csrf_token": csrf}
    signed = await _sign_form(portal, "register", form, csrf)
    resp = await portal.client.post("/dang-ky", data=_form_items(signed))
    text = await resp.text()
    assert resp.status == 200, text
    assert "Đăng ký giao dịch điện tử thành công" in text

    # The mailbox page shows the account mail.
    mailbox = await _get(portal, "/hop-thu")
    mail_id = re.search(r'href="/hop-thu/(\d+)"', mailbox).group(1)  # type: ignore[union-attr]
    mail = await _get(portal, f"/hop-thu/{mail_id}")
    password = re.search(r"Mật khẩu: (\S+)", mail).group(1)  # type: ignore[union-attr]

    html = await _get(portal, "/dang-nhap")
    resp = await portal.client.post(
        "/dang-nhap",
        data={
            "csrf_token": _csrf(html),
            "ten_dang_nhap": UNIT["ma_so_thue"],
            "mat_khau": password,
            "tiep": "/tai-khoan",
        },
    )
    text = await resp.text()
    assert resp.status == 200 and "Chứng thư số đã đăng ký" in text
    csrf = _csrf(text)  # the session was rotated at log-in

    # "Đăng ký ngừng hồ sơ" through the page, signed with the registered certificate.
    html = await _get(portal, "/tai-khoan/dang-ky-ngung-ho-so")
    assert f'data-kyso-registered="{portal.thumb("org")}"' in html
    signed = await _sign_form(portal, "stop-types", {"csrf_token": csrf, "loai_ho_so": "601"}, csrf)
    resp = await portal.client.post("/tai-khoan/dang-ky-ngung-ho-so", data=_form_items(signed))
    assert "Đã đăng ký ngừng hồ sơ: 601" in await resp.text()

    # "Tài khoản" lists each signed request in words, in Vietnam time, with the signed file.
    html = await _get(portal, "/tai-khoan")
    assert "Đăng ký ngừng loại hồ sơ giao dịch điện tử — đơn vị" in html
    assert "(giờ Việt Nam)" in html
    assert "Mã băm SHA-256 của tệp yêu cầu đã ký" in html
    link = re.search(r'href="(/tai-khoan/yeu-cau/\d+)"', html).group(1)  # type: ignore[union-attr]
    resp = await portal.client.get(link)
    stored = await resp.read()
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert stored == base64.b64decode(signed["signed_request"])
    assert hashlib.sha256(stored).hexdigest() in html

    # A form edited after signing is refused with E205 shown on the page.
    signed = await _sign_form(portal, "add-types", {"csrf_token": csrf, "loai_ho_so": "602"}, csrf)
    signed["loai_ho_so"] = "604"
    resp = await portal.client.post("/tai-khoan/dang-ky-them-ho-so", data=_form_items(signed))
    assert resp.status == 400 and "Mã lỗi E205" in await resp.text()

    # Prepare a dossier on the iBHXH stand-in page: "Lấy số hồ sơ" then the signing hook.
    fields = {
        "csrf_token": csrf,
        "draft_id": "",
        "so_dong": "1",
        "ky_ke_khai": "11/2026",
        "thao_tac": "lay_so",
    }
    fields |= {f"dong-0-{k}": v for k, v in ROWS[0].items()}
    resp = await portal.client.post("/lap-ho-so/ghi", data=fields)
    html = await resp.text()
    assert resp.status == 200 and "Đã ghi hồ sơ" in html
    assert (
        'data-kyso-action="sign-dossier"' in html
        and "Xuất file BHXH-VAN" in html
        and "Ký và nộp" in html
    )
    doc_url = re.search(r'data-kyso-document-url="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = await portal.client.get(doc_url)
    assert resp.headers["Content-Disposition"].startswith("attachment")
    signed_doc = await portal.sign_dossier("org", await resp.read())
    # The signing form names the draft version the page showed (redteam6 F1).
    bound = dict(
        re.findall(r'name="(draft_id|phien_ban)" value="(\d+)"', html.split("sign-dossier")[1])
    )
    assert set(bound) == {"draft_id", "phien_ban"}
    resp = await portal.client.post(
        "/nop-ho-so/kiem-tra",
        data={
            "csrf_token": csrf,
            "signed_document": base64.b64encode(signed_doc).decode(),
            **bound,
        },
    )
    html = await resp.text()
    assert resp.status == 200 and "Hồ sơ hợp lệ" in html, html
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = await portal.client.post(
        "/nop-ho-so/nop", data={"csrf_token": csrf, "upload_id": upload_id}
    )
    html = await resp.text()
    assert "Nộp hồ sơ thành công" in html and "data-receipt" in html

    html = await _get(portal, "/tra-cuu/ho-so?xem=1&trang_thai=received")
    assert "Đã tiếp nhận" in html and "Hiển thị kết quả" in html
    html = await _get(portal, "/tra-cuu/thong-bao?xem=1&ky=")
    assert "Thông báo tiếp nhận hồ sơ" in html
    notice = re.search(r'href="/tra-cuu/thong-bao/(\d+)"', html).group(1)  # type: ignore[union-attr]
    assert "biên nhận số BN" in await _get(portal, f"/tra-cuu/thong-bao/{notice}")
    html = await _get(portal, "/tra-cuu/ho-so?xem=1")
    dossier = re.search(r'href="/tra-cuu/ho-so/(\d+)"', html).group(1)  # type: ignore[union-attr]
    assert "Quá trình xử lý" in await _get(portal, f"/tra-cuu/ho-so/{dossier}")

    # Every other page of the menu renders for a logged-in unit.
    pages = {
        "/tai-khoan/dang-ky-them-ho-so": "Thêm hồ sơ",
        "/tai-khoan/thay-doi-thong-tin": 'data-kyso-action="change-certificate"',
        "/lap-ho-so": "Lập hồ sơ mới",
        "/lap-ho-so/moi": "Lấy số hồ sơ",
        "/nop-ho-so": "Kiểm tra hồ sơ",
        "/tra-cuu": "Danh mục mã lỗi",
    }
    for path, marker in pages.items():
        assert marker in await _get(portal, path), path

    # "Ngưng dịch vụ" through the page ends the session.
    html = await _get(portal, "/tai-khoan/ngung-dich-vu")
    assert 'data-kyso-action="cancel"' in html and ">Xác nhận</button>" in html
    form = {"csrf_token": csrf, "ly_do": "04", "ghi_chu": "Chuyển sang I-VAN khác"}
    resp = await portal.client.post(
        "/tai-khoan/ngung-dich-vu", data=await _sign_form(portal, "cancel", form, csrf)
    )
    assert "ngưng sử dụng dịch vụ BHXH điện tử" in await resp.text()
    resp = await portal.client.get("/tai-khoan", allow_redirects=False)
    assert resp.status == 303


async def test_unknown_page_gets_the_portal_error_page(portal: PortalDriver) -> None:
    resp = await portal.client.get("/khong-co-trang-nay")
    assert resp.status == 404 and "Mã lỗi E107" in await resp.text()
    resp = await portal.client.get("/api/v1/khong-co")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "E107"
