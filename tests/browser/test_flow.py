"""The walkthrough in a real browser: every signed step goes page → bridge → agent → token.

Each test starts from an empty portal and signs with the demo tokens through the real agent
(scripted prompter as the user). Screenshots of the main pages go to test-artifacts/screenshots.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness, pages
from tests.browser.conftest import Stack

pytestmark = pytest.mark.browser


def _register_and_login(page: Any, portal: str, shots: bool = False) -> tuple[str, str]:
    pages.register(page, portal)
    if shots:
        harness.screenshot(page, "02-dang-ky-thanh-cong")
    user, password = pages.read_account_mail(page, portal)
    if shots:
        harness.screenshot(page, "03-thu-tai-khoan")
    assert password, "a first registration mails a password"
    pages.login(page, portal, user, password)
    return user, password


def test_full_flow_register_sign_submit_lookup_notice(stack: Stack, portal: str, page: Any) -> None:
    """Register → mail → log in → add types → prepare → "Ký và nộp" → check → submit → receipt
    → "Tra cứu hồ sơ" → a notice arrives."""
    form = pages.fill_register_form(page, portal)
    harness.screenshot(page, "01-dang-ky")
    pages.press(form, "Đăng ký")
    assert "thư điện tử" in pages.open_result(page)
    harness.screenshot(page, "02-dang-ky-thanh-cong")
    user, password = pages.read_account_mail(page, portal)
    harness.screenshot(page, "03-thu-tai-khoan")
    assert password
    pages.login(page, portal, user, password)

    pages.tick_types(
        page, f"{portal}/tai-khoan/dang-ky-them-ho-so", "add-types", ["601", "607"], "Thêm hồ sơ"
    )
    page.goto(f"{portal}/tai-khoan/dang-ky-them-ho-so")
    assert page.locator("tr", has_text="601").locator(".tag.ok").count() == 1

    pages.prepare_dossier(page, portal)
    harness.screenshot(page, "04-lap-ho-so")
    pages.sign_and_check(page)
    harness.screenshot(page, "05-kiem-tra-ho-so")
    assert page.locator("dt:has-text('Số lao động') + dd").inner_text().strip() == "1"
    receipt = pages.submit_checked(page)
    harness.screenshot(page, "06-bien-nhan")
    assert receipt

    row = pages.lookup_shows(page, portal, receipt)
    assert "Đã tiếp nhận" in row.inner_text()
    # The simulated BHXH office processes the dossier; a notice arrives.
    for _ in range(2):
        assert pages.advance_processing(page)
    row = pages.lookup_shows(page, portal, receipt)
    assert "Đã giải quyết" in row.inner_text() or "Đã xử lý" in row.inner_text(), row.inner_text()
    harness.screenshot(page, "07-tra-cuu-ho-so")
    page.goto(f"{portal}/tra-cuu/thong-bao")
    page.get_by_role("button", name="Hiển thị kết quả").click()
    notice = page.locator("ul.notices li a").first
    notice.wait_for()
    notice.click()
    harness.screenshot(page, "08-thong-bao")
    assert page.locator("main").inner_text().strip()


def test_offline_path_signed_file_uploaded_with_duyet(
    stack: Stack, portal: str, page: Any, tmp_path: Path
) -> None:
    """Offline: "Xuất file BHXH-VAN" → `kyso-agent sign-xml --remove-unsigned` (the iBHXH-Signing step)
    → "Nộp hồ sơ" → "Duyệt" → "Kiểm tra hồ sơ" → "Nộp hồ sơ"."""
    _register_and_login(page, portal)
    pages.prepare_dossier(page, portal)
    with page.expect_download() as download:
        page.get_by_role("link", name="Xuất file BHXH-VAN").click()
    unsigned = tmp_path / download.value.suggested_filename
    download.value.save_as(unsigned)
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(harness.PIN_1)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli.main",
            "sign-xml",
            str(unsigned),
            "--cert",
            stack.thumbprint("org"),
            "--pin-file",
            str(pin_file),
            "--remove-unsigned",
        ],
        env=harness.python_env(stack.kyso_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    signed = unsigned.with_name(unsigned.stem + "_signed.xml")
    assert signed.exists() and not unsigned.exists(), list(tmp_path.iterdir())

    page.get_by_role("link", name="Nộp hồ sơ").first.click()
    page.get_by_label("Duyệt").set_input_files(str(signed))
    harness.screenshot(page, "10-nop-ho-so-duyet")
    page.get_by_role("button", name="Kiểm tra hồ sơ").click()
    page.get_by_role("heading", name="Kiểm tra hồ sơ").wait_for()
    receipt = pages.submit_checked(page)
    pages.lookup_shows(page, portal, receipt)


def test_resubmitting_the_same_dossier_is_refused(stack: Stack, portal: str, page: Any) -> None:
    """A submitted dossier cannot be submitted twice (the browser's back button and retry)."""
    _register_and_login(page, portal)
    draft = pages.prepare_dossier(page, portal)
    pages.sign_and_check(page)
    pages.submit_checked(page)
    page.goto(draft)
    form = pages.wait_attached(page, "sign-dossier")
    pages.press(form, "Ký và nộp")
    error = page.locator(".alert-error").first
    error.wait_for()
    assert error.get_attribute("data-error-code")


def test_stop_type_then_its_dossier_is_refused(stack: Stack, portal: str, page: Any) -> None:
    """Stop type 600 ("Đăng ký ngừng hồ sơ"): a 600 dossier then fails with the portal's code."""
    _register_and_login(page, portal)
    pages.tick_types(
        page, f"{portal}/tai-khoan/dang-ky-ngung-ho-so", "stop-types", ["600"], "Ngừng hồ sơ"
    )
    pages.prepare_dossier(page, portal)
    form = pages.wait_attached(page, "sign-dossier")
    pages.press(form, "Ký và nộp")
    error = page.locator(".alert-error").first
    error.wait_for()
    harness.screenshot(page, "err-ho-so-da-ngung")
    assert error.get_attribute("data-error-code") == "E408"
    assert "600" in error.inner_text()


def test_change_details_change_certificate_cancel_and_register_again(
    stack: Stack, portal: str, page: Any
) -> None:
    """Account changes: "Thay đổi thông tin" (details, then the certificate with token 2), "Ngưng dịch vụ", and
    registering again keeps the same account."""
    user, password = _register_and_login(page, portal)

    page.goto(f"{portal}/tai-khoan/thay-doi-thong-tin")
    form = pages.wait_attached(page, "change-details")
    form.locator("[name=dien_thoai]").fill("0987654321")
    pages.press(form, "Thay đổi")
    pages.open_result(page)
    page.goto(f"{portal}/tai-khoan")
    assert "0987654321" in page.locator("main").inner_text()

    # The new token: its renewed certificate and its own PIN.
    stack.answer(certificate=stack.thumbprint("org_renewed"), pin=harness.PIN_2)
    page.goto(f"{portal}/tai-khoan/thay-doi-thong-tin")
    form = pages.wait_attached(page, "change-certificate")
    pages.press(form, "Thay đổi")
    pages.open_result(page)
    harness.screenshot(page, "09-doi-chung-thu-so")
    # Dossiers are now signed with the new certificate (the page names it to the agent).
    pages.prepare_dossier(page, portal)
    pages.sign_and_check(page)

    page.goto(f"{portal}/tai-khoan/ngung-dich-vu")
    form = pages.wait_attached(page, "cancel")
    form.locator("input[name=ly_do]").first.check()
    pages.press(form, "Xác nhận")
    pages.open_result(page)

    pages.register(page, portal)
    again, new_password = pages.read_account_mail(page, portal)
    assert again == user
    assert new_password is None, "re-registration keeps the old password"
    # Later, in a new browser session: the old user name and password still work.
    later = stack.new_context()
    pages.login(later.new_page(), portal, user, password)
    later.close()
