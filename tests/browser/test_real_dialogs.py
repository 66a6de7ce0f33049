"""What you see is what you sign, end to end with the agent's REAL dialogs (issue 13).

The real ``kyso-agent run --prompter dialog`` shows its Tk windows on a private Xvfb; headless
Chromium drives the portal stub; the test plays the accountant from outside the agent: it finds
each window by its title on the X server, waits until the approving button is armed (the
dialogs ignore keys for a moment after they appear, against click-jacking; the agent has no
setting for that delay, so the test waits for it as a user would), looks at it (screenshots) and
answers with the keyboard through xdotool. Nothing inside the agent is reached or patched.

Screenshots go to test-artifacts/screenshots/; with ``KYSO_REFRESH_DOCS=1`` they also replace
the ones in docs/screenshots/ (never unasked: a test run must not dirty the documentation).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.demo.responder import DemoResponder
from tests.browser import harness, pages
from tests.browser.conftest import Stack, open_stack
from tests.browser.xscreen import Screen, Window, xvfb

pytestmark = pytest.mark.browser

DOCS_SCREENSHOTS = harness.REPO / "docs" / "screenshots"
# Window titles, by their Vietnamese start (the English half follows the language setting).
PICKER = "Kyso — Chọn chứng thư số"
CONSENT = "Kyso — Xác nhận ký số"
PIN = "Kyso — Nhập mã PIN"
PIN_AGAIN = "Kyso — Nhập lại mã PIN"
WRONG_PIN = "111111"  # six digits, as the demo tokens' PINs: only the token can say it is wrong
REASON_OTHER = "04"  # "Lý do khác": the note is then required (portal_stub/forms.py)
NOTE = "Đơn vị chuyển sang nộp hồ sơ qua nhà cung cấp I-VAN khác từ tháng 01/2027"


@pytest.fixture(scope="module")
def screen() -> Iterator[Screen]:
    """The accountant's screen: a private Xvfb, the mouse parked in a corner (a pointer over a
    button would change its colour)."""
    with xvfb() as s:
        s.mouse_to(0, 0)
        yield s


@pytest.fixture(scope="module")
def stack(
    demo: dict[str, Any],
    kyso_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    screen: Screen,
) -> Iterator[Stack]:
    """The shared browser stack, with the agent asking through its real dialogs on ``screen``.

    The demo's OCSP/CRL responder runs too, as ``kyso-agent demo`` runs it: without it every
    consent would carry a "revocation could not be checked" warning no user of the demo sees."""
    with DemoResponder(demo):
        for built in open_stack(
            demo,
            kyso_home,
            tmp_path_factory,
            prompter="dialog",
            agent_env={"DISPLAY": screen.display},
        ):
            assert "port" in built.agent.ready, (built.agent.ready, built.agent.log_tail())
            yield built


def shoot(screen: Screen, window: Window, name: str) -> Path:
    """Save what the window shows: always under test-artifacts/screenshots/, and in
    docs/screenshots/ only when KYSO_REFRESH_DOCS=1."""
    paths = [harness.SCREENSHOTS / f"{name}.png"]
    if os.environ.get("KYSO_REFRESH_DOCS") == "1":
        paths.append(DOCS_SCREENSHOTS / f"{name}.png")
    screen.save(window, *paths)
    return paths[0]


def answer_picker_with_last_row(screen: Screen, name: str | None = None) -> None:
    """The picker: the focus starts on "Hủy" (the safe key); Shift+Tab reaches the last
    certificate (the one on KYSO DEMO 2), Space selects it, Enter presses "Chọn"."""
    picker = screen.wait_window(PICKER)
    screen.wait_armed(picker)
    screen.wait_focused(picker)
    if name:
        shoot(screen, picker, name)
    screen.key("shift+Tab", "space", "Return")
    screen.wait_gone(picker)


def approve_consent(screen: Screen, name: str | None = None) -> None:
    """Consent: the focus starts on "Hủy"; Tab reaches "Xác nhận", Space presses it."""
    consent = screen.wait_window(CONSENT)
    screen.wait_armed(consent)
    screen.wait_focused(consent)
    if name:
        shoot(screen, consent, name)
    screen.key("Tab", "space")
    screen.wait_gone(consent)


def enter_pin(screen: Screen, pin: str, title: str = PIN, name: str | None = None) -> None:
    """Type the PIN into the focused PIN field and press Enter."""
    window = screen.wait_window(title)
    screen.wait_armed(window)
    screen.wait_focused(window)
    if name:
        shoot(screen, window, name)
    screen.type(pin)
    screen.key("Return")
    screen.wait_gone(window)


def register_with_token_2(page: Any, portal: str, screen: Screen, picker_shot: str = "") -> str:
    """ "Đăng ký": the unit's MST matches certificates on both tokens, so the picker asks;
    the accountant picks the renewed certificate on KYSO DEMO 2, confirms, types its PIN.
    Returns the page's result message."""
    form = pages.fill_register_form(page, portal)
    pages.press(form, "Đăng ký")
    answer_picker_with_last_row(screen, picker_shot or None)
    approve_consent(screen)
    enter_pin(screen, harness.PIN_2)
    message = pages.open_result(page)
    assert screen.titles() == []
    return message


def audit_lines(kyso_home: Path) -> list[dict[str, Any]]:
    """The agent's audit log (one JSON line per signature made or refused)."""
    path = kyso_home / "logs" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def xmlsec_verify(demo: dict[str, Any], path: Path) -> None:
    """xmlsec1, an independent verifier, checks the signature and the chain to the demo root."""
    proc = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--enabled-key-data",
            "x509",
            "--trusted-pem",
            demo["ca"]["root"],
            "--untrusted-pem",
            demo["ca"]["issuing"],
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_picker_names_both_tokens_and_the_keyboard_choice_signs(
    stack: Stack, portal: str, page: Any, screen: Screen
) -> None:
    """Registration offers the unit's certificates on KYSO DEMO 1 and KYSO DEMO 2 in the real
    picker; the one chosen with the keyboard is the one the portal registers, and its token's
    PIN (not the other token's) is the one that opens it."""
    message = register_with_token_2(page, portal, screen, picker_shot="agent-picker-token-names")
    assert "thư điện tử" in message
    user, password = pages.read_account_mail(page, portal)
    assert password
    pages.login(page, portal, user, password)
    page.goto(f"{portal}/tai-khoan")
    registered = page.locator("dt:has-text('Dấu vân tay') + dd").inner_text().strip()
    # The default row is the first certificate on KYSO DEMO 1: only the keys moved the choice.
    assert registered == stack.thumbprint("org_renewed")


def test_cancel_with_a_typed_reason_then_a_wrong_pin_is_retried_in_the_same_request(
    stack: Stack, portal: str, page: Any, screen: Screen, demo: dict[str, Any], tmp_path: Path
) -> None:
    """ "Ngưng dịch vụ" with "Lý do khác" and a typed note: the real consent shows it; a wrong
    PIN brings the PIN window back (one request, no second consent), the right PIN signs once,
    and the portal's history keeps the signed request with the reason and the note."""
    assert "thư điện tử" in register_with_token_2(page, portal, screen)
    user, password = pages.read_account_mail(page, portal)
    assert password
    pages.login(page, portal, user, password)

    page.goto(f"{portal}/tai-khoan/ngung-dich-vu")
    form = pages.wait_attached(page, "cancel")
    form.locator(f"input[name=ly_do][value='{REASON_OTHER}']").check()
    form.locator("textarea[name=ghi_chu]").fill(NOTE)
    signed_before = len(audit_lines(stack.kyso_home))
    pages.press(form, "Xác nhận")

    approve_consent(screen, "agent-consent-ngung-dich-vu")
    enter_pin(screen, WRONG_PIN)
    # The token refused it: the same request asks again, in its own words, with nothing else
    # on the screen (wait_window wants exactly one Kyso window: a second consent would fail).
    enter_pin(screen, harness.PIN_2, title=PIN_AGAIN, name="agent-pin-retry-in-browser")
    assert "ngưng" in pages.open_result(page).lower()
    assert screen.titles() == []

    # One signature for the whole exchange: one audit line, signed, by token 2, and no record
    # of the refused PIN as a separate failed request.
    new = audit_lines(stack.kyso_home)[signed_before:]
    assert [(r["result"], r.get("token")) for r in new] == [("OK", "KYSO DEMO 2")], new

    # The account is kept for a later registration; there its history lists the signed cancel.
    assert "Đăng ký lại thành công" in register_with_token_2(page, portal, screen)
    again, new_password = pages.read_account_mail(page, portal)
    assert again == user and new_password is None
    pages.login(page, portal, user, password)
    page.goto(f"{portal}/tai-khoan")
    entry = page.locator("ol.history li", has_text="Ngưng sử dụng dịch vụ")
    assert entry.count() == 1, page.locator("ol.history").inner_text()
    assert "lý do: Lý do khác" in entry.inner_text()
    with page.expect_download() as download:
        entry.get_by_role("link", name="Tải tệp yêu cầu đã ký (XML)").click()
    signed = tmp_path / "ngung-dich-vu.xml"
    download.value.save_as(signed)
    tree = etree.parse(str(signed))
    assert tree.findtext(".//{*}LyDo/{*}MaLyDo") == REASON_OTHER
    assert tree.findtext(".//{*}LyDo/{*}GhiChu") == NOTE
    xmlsec_verify(demo, signed)


def test_cancel_in_the_pin_window_asked_again_ends_the_request_unsigned(
    stack: Stack, portal: str, page: Any, screen: Screen
) -> None:
    """ "Hủy" always works, also in the PIN window a wrong PIN brought back: the page says
    nothing was signed, no window is left, the audit records one cancelled request (not a
    signature), and the portal registered nothing."""
    form = pages.fill_register_form(page, portal)
    signed_before = len(audit_lines(stack.kyso_home))
    pages.press(form, "Đăng ký")
    answer_picker_with_last_row(screen)
    approve_consent(screen)
    enter_pin(screen, WRONG_PIN)
    again = screen.wait_window(PIN_AGAIN)
    screen.wait_armed(again)
    screen.wait_focused(again)
    screen.key("Escape")  # the PIN field has the focus; Escape is the window's "Hủy"
    screen.wait_gone(again)

    status = pages.wait_status_error(form, "USER_CANCELLED")
    assert "Không có gì được ký" in status.inner_text()
    assert screen.titles() == []
    new = audit_lines(stack.kyso_home)[signed_before:]
    assert [(r["result"], r.get("token")) for r in new] == [("USER_CANCELLED", "KYSO DEMO 2")], new
    # Nothing reached the portal: the unit can still register (no "already registered").
    assert "thư điện tử" in register_with_token_2(page, portal, screen)
