"""Account requests as small signed XML documents (docs/portal-api.md, "Account requests").

What a unit asks of its account (register, add or stop dossier types, change details, change
the certificate, cancel the service) is written by the portal as a ``<YeuCauTaiKhoan>``
document in the BHXH style: the request type, the portal's nonce, its origin and the time,
the unit, and the content (types, each changed field before and after, the reason). The unit
signs it with ``sign.xml`` (profile ``bhxh``: the signature goes in ``CKy_Dvi``, found by the
agent from its profiles table), and the agent's consent dialog says it in words.

Pure logic, no I/O: building a request, reading its nonce, and the key two requests are
compared on (their canonical content with the signature container emptied).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import parse_untrusted
from agent.signing.xml.profiles import REQUEST_ROOT
from portal_stub.errors import PortalError
from portal_stub.timefmt import vietnam_iso

# Portal action -> request type code (a row of agent.signing.xml.profiles.REQUEST_SUMMARIES).
REQUEST_CODES: dict[str, str] = {
    "register": "DANG_KY",
    "add-types": "DANG_KY_THEM_HO_SO",
    "stop-types": "DANG_KY_NGUNG_HO_SO",
    "change-details": "THAY_DOI_THONG_TIN",
    "change-certificate": "THAY_DOI_CHUNG_THU_SO",
    "cancel": "NGUNG_DICH_VU",
}
REQUEST_NAMES: dict[str, str] = {
    "DANG_KY": "Đăng ký sử dụng dịch vụ giao dịch điện tử",
    "DANG_KY_THEM_HO_SO": "Đăng ký thêm loại hồ sơ",
    "DANG_KY_NGUNG_HO_SO": "Đăng ký ngừng loại hồ sơ",
    "THAY_DOI_THONG_TIN": "Thay đổi thông tin đăng ký",
    "THAY_DOI_CHUNG_THU_SO": "Thay đổi chứng thư số",
    "NGUNG_DICH_VU": "Ngưng sử dụng dịch vụ giao dịch điện tử",
}
# Form field -> element name (also the names <ThayDoi> uses for a changed field).
DETAIL_ELEMENTS: dict[str, str] = {
    "ten_don_vi": "TenDonVi",
    "co_quan_bhxh": "CoQuanBHXH",
    "dia_chi": "DiaChi",
    "nguoi_lien_he": "NguoiLienHe",
    "dien_thoai": "DienThoai",
    "email": "ThuDienTu",
}
ACCOUNT_COLUMNS: dict[str, str] = {
    "ten_don_vi": "unit_name",
    "co_quan_bhxh": "office_code",
    "dia_chi": "address",
    "nguoi_lien_he": "contact_name",
    "dien_thoai": "phone",
    "email": "email",
}
NONCE_PATH = "ThongTinYeuCau/MaXacThuc"
CONTAINER = "CKy_Dvi"
# A request is a few kilobytes; anything much larger is not one.
MAX_REQUEST_BYTES = 256 * 1024


def _add(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _office(parent: etree._Element, tag: str, code: str, offices: Mapping[str, str]) -> None:
    _add(parent, tag, offices.get(code, code), Ma=code)


def _unit(unit: Any, fields: Mapping[str, Any], account: Mapping[str, Any] | None) -> None:
    """The unit: from the registration form, or the logged-in account."""
    if account is None:
        _add(unit, "TenDonVi", fields["ten_don_vi"])
        _add(unit, "MaSoThue", fields["ma_so_thue"])
        _add(unit, "MaDonVi", fields["ma_don_vi"])
        return
    _add(unit, "TenDonVi", account["unit_name"])
    _add(unit, "MaSoThue", account["mst"])
    _add(unit, "MaDonVi", account["unit_code"])
    _add(unit, "TenDangNhap", account["username"])


def _types(content: Any, procedures: Any, catalogue: Mapping[str, str]) -> None:
    """The dossier types a registration adds, or an add/stop request names."""
    listing = _add(content, "DanhSachHoSo")
    for procedure in procedures:
        item = _add(listing, "HoSo")
        _add(item, "MaThuTuc", procedure)
        _add(item, "TenThuTuc", f"{procedure} – {catalogue.get(procedure, '')}".rstrip(" –"))


def _changes(
    content: Any,
    fields: Mapping[str, Any],
    account: Mapping[str, Any],
    offices: Mapping[str, str],
) -> None:
    """Each changed detail, before and after; FORM_INVALID when nothing changes."""
    changes = _add(content, "ThayDoi")
    for name, tag in DETAIL_ELEMENTS.items():
        before, after = str(account[ACCOUNT_COLUMNS[name]] or ""), fields[name]
        if before == after:
            continue
        item = _add(changes, tag)
        if name == "co_quan_bhxh":
            _office(item, "GiaTriCu", before, offices)
            _office(item, "GiaTriMoi", after, offices)
        else:
            _add(item, "GiaTriCu", before)
            _add(item, "GiaTriMoi", after)
    if not len(changes):
        raise PortalError("FORM_INVALID", {"detail": "không có thông tin nào thay đổi"})


def build_request(
    action: str,
    fields: Mapping[str, Any],
    *,
    nonce: str,
    origin: str,
    at: dt.datetime,
    account: Mapping[str, Any] | None,
    catalogue: Mapping[str, str],
    offices: Mapping[str, str],
    old_certificate: str = "",
) -> bytes:
    """The unsigned request for ``action`` with the validated ``fields`` (forms.bound_fields).

    ``account`` is the logged-in unit (None when registering): its current details are the
    "before" of a change. ``catalogue`` names the dossier types, ``offices`` the BHXH offices.
    Raises FORM_INVALID for a change of details that changes nothing.
    """
    code = REQUEST_CODES[action]
    root = etree.Element(REQUEST_ROOT)
    head = _add(root, "ThongTinYeuCau")
    _add(head, "LoaiYeuCau", code)
    _add(head, "TenYeuCau", REQUEST_NAMES[code])
    _add(head, "MaXacThuc", nonce)
    _add(head, "CongGiaoDich", origin)
    _add(head, "ThoiGianLap", vietnam_iso(at))
    _unit(_add(root, "ThongTinDonVi"), fields, account)
    content = _add(root, "NoiDung")
    if action == "register":
        details = _add(content, "ThongTinDangKy")
        for name, tag in DETAIL_ELEMENTS.items():
            if name == "co_quan_bhxh":
                _office(details, tag, fields[name], offices)
            else:
                _add(details, tag, fields[name])
    if action in ("register", "add-types", "stop-types"):
        _types(content, fields["loai_ho_so"], catalogue)
    elif action == "change-details":
        assert account is not None
        _changes(content, fields, account, offices)
    elif action == "change-certificate":
        assert account is not None
        old = _add(content, "ChungThuSoCu")
        _add(old, "ChuThe", old_certificate or str(account["cert_subject"] or ""))
        _add(old, "SoHieu", str(account["cert_thumbprint"] or ""))
        _add(content, "ChungThuSoMoi", "Chứng thư số dùng để ký yêu cầu này")
    elif action == "cancel":
        reason = _add(content, "LyDo")
        _add(reason, "MaLyDo", fields["ly_do"])
        _add(reason, "TenLyDo", fields["ly_do_text"])
        if fields.get("ghi_chu"):
            _add(reason, "GhiChu", fields["ghi_chu"])
    _add(root, CONTAINER)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def decode_signed(raw: Any) -> bytes:
    """The signed request from a form or JSON field: base64 (what the agent returns) or the
    XML text itself. Missing -> E201."""
    if raw is None or not str(raw).strip():
        raise PortalError("SIGNATURE_REQUIRED")
    text = str(raw).strip()
    if text.startswith("<"):
        data = text.encode("utf-8")
    else:
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PortalError("REQUEST_INVALID", {"detail": "không giải mã được"}) from exc
    if len(data) > MAX_REQUEST_BYTES:
        raise PortalError("REQUEST_INVALID", {"detail": "tệp quá lớn"})
    return data


def parse_request(data: bytes) -> etree._Element:
    """The request's root (safe parser), or REQUEST_INVALID for anything that is not one."""
    try:
        root = parse_untrusted(data, max_bytes=MAX_REQUEST_BYTES, max_depth=16).getroot()
    except KysoError as exc:
        raise PortalError("REQUEST_INVALID", {"detail": exc.message_vi}, cause=exc) from exc
    if etree.QName(root).localname != REQUEST_ROOT:
        raise PortalError(
            "REQUEST_INVALID", {"detail": f"phần tử gốc là <{etree.QName(root).localname}>"}
        )
    return root


def request_nonce(root: etree._Element) -> str | None:
    """The portal's nonce written in the request (not yet proven: the signature says so)."""
    found = root.find(NONCE_PATH)
    return (found.text or "").strip() or None if found is not None else None


def content_key(root: etree._Element) -> bytes:
    """Canonical bytes of the request with its signature container emptied.

    Two requests with the same key asked for the same thing: the portal's unsigned copy and
    the content the unit's signature covers compare equal whatever the signer wrote inside
    ``CKy_Dvi`` (the signature, white space).
    """
    root = copy.deepcopy(root)
    for container in root.iterchildren(CONTAINER):
        for child in list(container):
            container.remove(child)
        container.text = None
    return etree.tostring(root, method="c14n", exclusive=False, with_comments=False)
