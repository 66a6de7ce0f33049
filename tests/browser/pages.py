"""What a person does on the portal, step by step, by the labels they see (Playwright sync API)."""

from __future__ import annotations

import re
from typing import Any

UNIT = {
    "ma_so_thue": "0101234567",
    "ma_don_vi": "TA0101234",
    "ten_don_vi": "Công ty TNHH Giải pháp Kyso Việt Nam",
    "dia_chi": "Số 1 Phố Liễu Giai, Ba Đình, Hà Nội",
    "nguoi_lien_he": "Trần Thị Mai",
    "dien_thoai": "0912345678",
    "email": "ketoan@kyso.test",
}


def status_of(form: Any) -> Any:
    """The .kyso-status element of a form."""
    return form.locator(".kyso-status")


def wait_status_error(form: Any, code: str, timeout: float = 30000) -> Any:
    """Wait until the form's status shows the error ``code``; return the status element."""
    status = status_of(form)
    status.locator(f"xpath=self::*[@data-kyso-code='{code}']").wait_for(timeout=timeout)
    return status


def fill_register_form(page: Any, portal: str, **values: str) -> Any:
    """Open "Đăng ký" and fill the unit's details; returns the form."""
    page.goto(f"{portal}/dang-ky")
    form = page.locator("form[data-kyso-action=register]")
    data = {**UNIT, **values}
    for name, value in data.items():
        form.locator(f"[name={name}]").fill(value)
    select = form.locator("select[name=co_quan_bhxh]")
    select.select_option(index=1)
    wait_attached(page, "register")
    return form


def wait_attached(page: Any, action: str) -> Any:
    """Wait until portal-sign.js has taken over the form (module scripts run after parsing)."""
    form = page.locator(f"form[data-kyso-action={action}][data-kyso-attached='1']")
    form.wait_for(state="attached")
    return form


def press(form: Any, label: str) -> None:
    """Press the form's button with this label."""
    form.get_by_role("button", name=label, exact=True).click()


def register(page: Any, portal: str, **values: str) -> None:
    """Register the unit with its token (the agent's scripted user answers)."""
    form = fill_register_form(page, portal, **values)
    press(form, "Đăng ký")
    page.get_by_role("heading", name="Đăng ký", exact=True).wait_for()
    page.locator(".alert-ok").wait_for()


def read_account_mail(page: Any, portal: str) -> tuple[str, str | None]:
    """Open the newest account mail on the mailbox page; (user name, password or None)."""
    page.goto(f"{portal}/hop-thu")
    page.locator("table a").first.click()
    text = page.locator("pre.letter").inner_text()
    user = re.search(r"Tên đăng nhập:\s*(\S+)", text)
    password = re.search(r"Mật khẩu:\s*(\S+)", text)
    assert user, text
    pw = password.group(1) if password and not password.group(1).startswith("không") else None
    return user.group(1), pw


def login(page: Any, portal: str, user: str, password: str) -> None:
    """Log in with the mailed account."""
    page.goto(f"{portal}/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(user)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("button", name="Đăng xuất").wait_for()


def open_result(page: Any) -> str:
    """Wait for the green result box of a signed step; return its text."""
    box = page.locator(".alert-ok").first
    box.wait_for()
    return box.inner_text()


def tick_types(page: Any, path: str, action: str, codes: list[str], button: str) -> str:
    """On "Đăng ký thêm/ngừng hồ sơ": tick ``codes``, press ``button``; the result text."""
    page.goto(path)
    form = wait_attached(page, action)
    for code in codes:
        form.locator(f"input[name=loai_ho_so][value='{code}']").check()
    press(form, button)
    return open_result(page)


EMPLOYEE = {
    "HoTen": "Nguyễn Văn An",
    "MaSoBHXH": "0123456789",
    "NgaySinh": "1990-01-15",
    "ChucVu": "Nhân viên kế toán",
    "MucLuong": "8500000",
    "TuThang": "11/2026",
}


def prepare_dossier(page: Any, portal: str, period: str = "11/2026") -> str:
    """On "Lập hồ sơ": one D02-TS row, then "Lấy số hồ sơ"; returns the draft page URL."""
    page.goto(f"{portal}/lap-ho-so/moi")
    page.locator("[name=ky_ke_khai]").fill(period)
    for name, value in EMPLOYEE.items():
        page.locator(f"[name=dong-0-{name}]").fill(value)
    page.locator("[name=dong-0-GioiTinh]").select_option("Nam")
    page.locator("[name=dong-0-PhuongAn]").select_option("TM")
    page.get_by_role("button", name="Lấy số hồ sơ").click()
    page.get_by_role("link", name="Xuất file BHXH-VAN").wait_for()
    return page.url


def sign_and_check(page: Any) -> Any:
    """Press "Ký và nộp" (signs through the bridge); waits for "Kiểm tra hồ sơ"."""
    form = wait_attached(page, "sign-dossier")
    press(form, "Ký và nộp")
    page.get_by_role("heading", name="Kiểm tra hồ sơ").wait_for()
    return page


def submit_checked(page: Any) -> str:
    """Press "Nộp hồ sơ" on the check page; returns the receipt number."""
    page.get_by_role("button", name="Nộp hồ sơ").click()
    page.get_by_role("heading", name="Nộp hồ sơ thành công").wait_for()
    return page.locator("[data-receipt]").inner_text().strip()


def lookup_shows(page: Any, portal: str, receipt: str) -> Any:
    """Open "Tra cứu hồ sơ", press "Hiển thị kết quả"; returns the row of ``receipt``."""
    page.goto(f"{portal}/tra-cuu/ho-so")
    page.get_by_role("button", name="Hiển thị kết quả").click()
    row = page.locator("table tr", has_text=receipt)
    row.wait_for()
    return row


def advance_processing(page: Any) -> bool:
    """Let the simulated BHXH office move dossiers one step (the portal's debug hook), from the
    page itself so the request goes through the browser's trusted TLS."""
    return bool(
        page.evaluate(
            "fetch('/api/v1/debug/advance', {method: 'POST', headers: {'Content-Type': "
            "'application/json'}, body: '{}'}).then(r => r.ok)"
        )
    )
