"""What a user sees when signing cannot happen, on the "Đăng ký" page (the first signature a
unit ever makes): the message, what to do, and the stable code, in Vietnamese.

Every case is produced by the real part failing the way it fails for users: nothing listening,
a browser that does not trust the agent's CA, a denied Local Network Access permission, the user
refusing the site in pairing or cancelling in the consent dialog, a wrong PIN, an expired
certificate, the token pulled out while the consent dialog is open.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from agent.demo import tokens as demo_tokens
from tests.browser import harness, pages
from tests.browser.conftest import Stack

pytestmark = pytest.mark.browser


@pytest.fixture
def user_page(stack: Stack, shared_portal: str) -> Iterator[Any]:
    """A set-up user's browser tab (LNA allowed, agent CA trusted) on the shared portal."""
    stack.answer()
    context = stack.new_context()
    yield context.new_page()
    context.close()


def attempt_register(page: Any, portal: str) -> Any:
    """Fill "Đăng ký", press the button, return the form's status once it shows an error."""
    form = pages.fill_register_form(page, portal)
    pages.press(form, "Đăng ký")
    status = form.locator(".kyso-status[data-state=error]")
    status.wait_for(timeout=30000)
    status.scroll_into_view_if_needed()
    return status


def expect(status: Any, code: str, *phrases: str) -> str:
    """The status shows ``code`` and each phrase; returns its text."""
    assert status.get_attribute("data-kyso-code") == code
    text = status.inner_text()
    assert f"Mã lỗi: {code}" in text
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in {text!r}"
    return text


def test_agent_not_running(stack: Stack, shared_portal: str) -> None:
    """Nothing listens where the agent should be, and nothing answers the ping: how to start
    (or install) Kyso. (The stack's own agent answers its ping port, so this page pings a
    port where nothing runs.)"""
    options = stack.bridge_options(ports=[harness.free_port()], pingPorts=[harness.free_port()])
    context = stack.new_context(bridge=options)
    page = context.new_page()
    status = attempt_register(page, shared_portal)
    expect(status, "AGENT_UNREACHABLE", "Không kết nối được tới Kyso", "kyso-agent run")
    harness.screenshot(page, "err-kyso-chua-chay", full_page=False)
    context.close()


@pytest.fixture(scope="module")
def untrusting(stack: Stack) -> Iterator[Any]:
    """A Chromium that trusts the portal but NOT the agent's local CA (a user who never ran
    'kyso-agent trust install')."""
    home = harness.chromium_home(stack.root / "home-untrusting", stack.portal_tls / "portal-ca.pem")
    browser = harness.launch_chromium(stack.playwright, home, [stack.portal_port, stack.other_port])
    yield browser
    browser.close()


def test_certificate_not_trusted(stack: Stack, shared_portal: str, untrusting: Any) -> None:
    """Kyso runs but this browser does not trust its CA. The agent's plain-http ping answers
    (allowed by the portal's CSP), so the page names the real cause and the one fix."""
    assert stack.agent.ready.get("ping_port") == stack.ping_port, stack.agent.ready
    options = stack.bridge_options(pingPorts=[stack.ping_port])
    context = stack.new_context(browser=untrusting, bridge=options)
    page = context.new_page()
    status = attempt_register(page, shared_portal)
    expect(
        status,
        "CERT_NOT_TRUSTED",
        "Kyso đang chạy, nhưng trình duyệt này chưa tin cậy chứng thư bảo mật (TLS) của Kyso",
        "kyso-agent trust install",
    )
    harness.screenshot(page, "err-chua-tin-cay-chung-thu", full_page=False)
    context.close()


def test_certificate_not_trusted_without_ping(
    stack: Stack, shared_portal: str, untrusting: Any
) -> None:
    """A page that turned the ping off (or an agent too old to serve it) cannot tell an
    untrusted certificate from "not running": the message says both, with 'trust install'."""
    context = stack.new_context(browser=untrusting, bridge=stack.bridge_options(pingPorts=[]))
    page = context.new_page()
    status = attempt_register(page, shared_portal)
    expect(status, "AGENT_UNREACHABLE", "kyso-agent run", "kyso-agent trust install")
    context.close()


def test_local_network_access_denied(stack: Stack, shared_portal: str) -> None:
    """Chromium's Local Network Access permission is refused (headless Chromium refuses it the
    way a user's "Block" does): where to allow it, and the policy IT can set."""
    context = stack.new_context(grant=False)
    page = context.new_page()
    status = attempt_register(page, shared_portal)
    expect(status, "LOCAL_NETWORK_DENIED", "Mạng cục bộ", "LocalNetworkAccessAllowedForUrls")
    harness.screenshot(page, "err-chan-mang-cuc-bo", full_page=False)
    context.close()


def test_origin_refused_in_pairing(stack: Stack, other_portal: str) -> None:
    """A site the agent was not told about: the user answers "deny" in Kyso's pairing question."""
    stack.answer(pair="deny")
    context = stack.new_context()
    page = context.new_page()
    status = attempt_register(page, other_portal)
    text = expect(
        status, "ORIGIN_NOT_ALLOWED", "không được phép dùng USB token", "Cho phép", "thoát Kyso"
    )
    assert other_portal in text
    harness.screenshot(page, "err-trang-khong-duoc-phep", full_page=False)
    context.close()


def test_user_cancels_consent(stack: Stack, shared_portal: str, user_page: Any) -> None:
    """The user presses "Hủy" in the consent dialog."""
    stack.answer(consent="deny")
    status = attempt_register(user_page, shared_portal)
    expect(status, "USER_CANCELLED", "Không có gì được ký")
    harness.screenshot(user_page, "err-nguoi-dung-huy", full_page=False)


def test_wrong_pin_shows_what_the_token_says(
    stack: Stack, shared_portal: str, user_page: Any
) -> None:
    """A wrong PIN: the message, the token's PIN counter state, and the warning about locking."""
    stack.answer(pin="000000")
    status = attempt_register(user_page, shared_portal)
    text = expect(status, "PIN_INCORRECT", "Mã PIN không đúng", "bị khóa")
    # SoftHSM2 raises "count low" after a wrong PIN (it never locks); real tokens also say
    # "final try" (PIN_FINAL_TRY) and "locked" (PIN_LOCKED).
    assert "số lần thử còn lại đang giảm" in text
    harness.screenshot(user_page, "err-sai-ma-pin", full_page=False)


def test_expired_certificate(stack: Stack, shared_portal: str, user_page: Any) -> None:
    """The page names a certificate that has expired (a unit still registered with its old
    one): the agent refuses before any prompt and says to renew."""
    form = pages.fill_register_form(user_page, shared_portal)
    form.evaluate("(f, t) => { f.dataset.kysoCertificate = t; }", stack.thumbprint("expired"))
    pages.press(form, "Đăng ký")
    status = form.locator(".kyso-status[data-state=error]")
    status.wait_for()
    expect(status, "CERT_EXPIRED", "hết hạn", "Gia hạn chứng thư số")
    harness.screenshot(user_page, "err-chung-thu-het-han", full_page=False)


def test_token_pulled_out_mid_sign(stack: Stack, shared_portal: str, user_page: Any) -> None:
    """The token is pulled out while the consent dialog is open: nothing is signed; plug it back
    in and sign again. (SoftHSM2: the token's directory is moved out of its token store.)"""
    stack.answer(delay_seconds={"consent": 2.0})
    form = pages.fill_register_form(user_page, shared_portal)
    offset = stack.agent.log_size()
    pages.press(form, "Đăng ký")
    # The user has chosen the certificate; the consent dialog is open (the scripted user is slow).
    stack.agent.wait_log("answered certificate", offset)
    token_dir = demo_tokens.token_directory("KYSO DEMO 1")
    # Out of the token store entirely: SoftHSM2 treats every directory in it as a token.
    away = stack.root / "pulled-out" / token_dir.name
    away.parent.mkdir(exist_ok=True)
    shutil.move(token_dir, away)
    try:
        status = form.locator(".kyso-status[data-state=error]")
        status.wait_for(timeout=30000)
        status.scroll_into_view_if_needed()
        harness.screenshot(user_page, "err-rut-token", full_page=False)
        expect(status, "TOKEN_REMOVED", "USB token đã bị rút ra", "Cắm lại USB token")
    finally:
        shutil.move(away, token_dir)
    # Plugged back in: a restarted agent signs again (SoftHSM2 does not re-read a token whose
    # files vanished while it was loaded, a real token driver does).
    stack.restart_agent()
