"""Form fields of each signed action: names, validation, and what a challenge binds. Pure logic.

Pages post HTML forms and the API posts JSON with the same field names, so one function reads
both (``fields`` is anything with ``get``/``getall`` or a plain dict whose lists are lists).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal_stub.errors import PortalError

ACTIONS = (
    "register",
    "add-types",
    "stop-types",
    "cancel",
    "change-details",
    "change-certificate",
)

# Registration details, in page order, with Vietnamese labels.
DETAIL_FIELDS: tuple[tuple[str, str], ...] = (
    ("ten_don_vi", "Tên đơn vị"),
    ("co_quan_bhxh", "Cơ quan BHXH quản lý"),
    ("dia_chi", "Địa chỉ"),
    ("nguoi_lien_he", "Người liên hệ"),
    ("dien_thoai", "Điện thoại"),
    ("email", "Thư điện tử (nhận tài khoản)"),
)
REGISTER_FIELDS: tuple[tuple[str, str], ...] = (
    ("ma_so_thue", "Mã số thuế"),
    ("ma_don_vi", "Mã đơn vị (mã số BHXH của đơn vị)"),
    *DETAIL_FIELDS,
)

CANCEL_REASONS: dict[str, str] = {
    "01": "Đơn vị giải thể, phá sản, chấm dứt hoạt động",
    "02": "Đơn vị chuyển sang giao dịch qua tổ chức I-VAN khác",
    "03": "Đơn vị tạm ngừng sản xuất, kinh doanh",
    "04": "Lý do khác",
}

_MST = re.compile(r"^\d{10}(-\d{3})?$")
_UNIT_CODE = re.compile(r"^[A-Z0-9]{5,15}$")
# One plain address: the password mail goes to exactly what was signed. The looser
# [^@\s]+@... let "a@b.vn,=?utf-8?b?...?=" through, which the mail header parser decoded into a
# hidden second recipient, and "a@[b.vn", which crashed composing the mail.
_EMAIL = re.compile(
    r"^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
MAX_FIELD_CHARS = 300  # a unit's name or address; the rest are far shorter
MAX_NOTE_CHARS = 1000  # "Ngưng dịch vụ": the note beside "Lý do khác"
_PHONE = re.compile(r"^[0-9 .+()-]{8,20}$")


def _get(fields: Any, name: str) -> str:
    value = fields.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


def _getall(fields: Any, name: str) -> list[str]:
    if hasattr(fields, "getall"):
        values = fields.getall(name, [])
    else:
        values = fields.get(name) or []
        if isinstance(values, str):
            values = [values]
    out: list[str] = []
    for value in values:
        # Accept "600,601" too (API convenience).
        out.extend(v.strip() for v in str(value).split(",") if v.strip())
    return sorted(set(out))


@dataclass(frozen=True)
class Bound:
    """What a signature on this action covers."""

    action: str
    fields: dict[str, Any]


def _require(values: dict[str, str], labels: tuple[tuple[str, str], ...]) -> None:
    missing = [label for name, label in labels if not values.get(name)]
    if missing:
        raise PortalError("FORM_INVALID", {"detail": "thiếu " + ", ".join(missing)})


def read_details(fields: Any, offices: set[str], *, registering: bool) -> dict[str, str]:
    """Registration (or change-details) values, validated."""
    labels = REGISTER_FIELDS if registering else DETAIL_FIELDS
    values = {name: _get(fields, name) for name, _ in labels}
    _require(values, labels)
    too_long = [label for name, label in labels if len(values[name]) > MAX_FIELD_CHARS]
    if too_long:  # stored with the challenge, unsigned, by anyone: kept small
        detail = f"quá {MAX_FIELD_CHARS} ký tự: " + ", ".join(too_long)
        raise PortalError("FORM_INVALID", {"detail": detail})
    if registering:
        values["ma_don_vi"] = values["ma_don_vi"].upper()
        if not _MST.match(values["ma_so_thue"]):
            raise PortalError(
                "FORM_INVALID", {"detail": "mã số thuế phải có 10 chữ số (chi nhánh: thêm -NNN)"}
            )
        if not _UNIT_CODE.match(values["ma_don_vi"]):
            raise PortalError(
                "FORM_INVALID", {"detail": "mã đơn vị gồm 5–15 chữ in hoa hoặc chữ số"}
            )
    if values["co_quan_bhxh"] not in offices:
        raise PortalError("FORM_INVALID", {"detail": "cơ quan BHXH không có trong danh mục"})
    if not _EMAIL.match(values["email"]):
        raise PortalError("FORM_INVALID", {"detail": "địa chỉ thư điện tử không đúng"})
    if not _PHONE.match(values["dien_thoai"]):
        raise PortalError("FORM_INVALID", {"detail": "số điện thoại không đúng"})
    return values


def read_types(fields: Any, known: set[str], *, at_least_one: bool = True) -> list[str]:
    """The ticked dossier types (``loai_ho_so``), validated against the catalogue."""
    types = _getall(fields, "loai_ho_so")
    unknown = [t for t in types if t not in known]
    if unknown:
        raise PortalError("TYPE_UNKNOWN", {"procedure": ", ".join(unknown)})
    if at_least_one and not types:
        raise PortalError("FORM_INVALID", {"detail": "chưa chọn loại hồ sơ nào"})
    return types


def read_cancel(fields: Any) -> dict[str, str]:
    """Reason code and note for "Ngưng dịch vụ"."""
    reason = _get(fields, "ly_do")
    note = _get(fields, "ghi_chu")
    if reason not in CANCEL_REASONS:
        raise PortalError("FORM_INVALID", {"detail": "chưa chọn lý do ngưng dịch vụ"})
    if reason == "04" and not note:
        raise PortalError("FORM_INVALID", {"detail": "ghi rõ lý do khác"})
    if len(note) > MAX_NOTE_CHARS:  # it is signed, kept in the history and shown in consent
        raise PortalError("FORM_INVALID", {"detail": f"ghi chú quá {MAX_NOTE_CHARS} ký tự"})
    return {"ly_do": reason, "ghi_chu": note}


def bound_fields(
    action: str,
    fields: Any,
    *,
    username: str | None,
    offices: set[str],
    types: set[str],
) -> Bound:
    """Validate a submitted form for ``action`` and return exactly what the signature binds.

    The same function runs when the challenge is issued and when the signed form comes back,
    so the hashes agree only if the user submits what they signed.
    """
    if action not in ACTIONS:
        raise PortalError("FORM_INVALID", {"detail": f"thao tác không hợp lệ: {action}"})
    if action == "register":
        values: dict[str, Any] = read_details(fields, offices, registering=True)
        values["loai_ho_so"] = read_types(fields, types)
        return Bound(action, values)
    if username is None:
        raise PortalError("LOGIN_REQUIRED")
    if action in ("add-types", "stop-types"):
        return Bound(action, {"ten_dang_nhap": username, "loai_ho_so": read_types(fields, types)})
    if action == "cancel":
        return Bound(action, {"ten_dang_nhap": username, **read_cancel(fields)})
    if action == "change-details":
        return Bound(
            action, {"ten_dang_nhap": username, **read_details(fields, offices, registering=False)}
        )
    return Bound(action, {"ten_dang_nhap": username})


def as_mapping(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of a form for re-rendering (multi-values as lists)."""
    if hasattr(fields, "getall"):
        return {
            k: (fields.getall(k) if len(fields.getall(k)) > 1 else fields.get(k)) for k in fields
        }
    return dict(fields)
