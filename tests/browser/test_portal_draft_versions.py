"""The draft page signs what it shows (redteam6 F1), and another site that opens the portal keeps
no handle on its tab (F3). Real Chromium, real agent (scripted user), the portal stub.

F1: a draft saved as Nguyễn Văn An, 8 500 000 đ, 11/2026 is edited on the page to Lê Thị Bình,
99 000 000 đ, 12/2026 without "Ghi": "Ký và nộp" used to sign the saved values. Now it refuses
(E424) without asking Kyso anything, and after "Ghi" it signs the edited ones. A save in another
tab between showing the page and "Ký" (E422 at the export), or between the export and "Kiểm tra
hồ sơ" (E422 at the check), is refused too. The server-side half is
tests/portal/test_draft_versions.py.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.browser import harness, pages
from tests.browser.conftest import Stack

pytestmark = pytest.mark.browser

EDITED = {"dong-0-HoTen": "Lê Thị Bình", "dong-0-MucLuong": "99000000", "ky_ke_khai": "12/2026"}


def _logged_in_with_draft(page: Any, portal: str) -> str:
    """Register, log in, save a numbered draft (Nguyễn Văn An, 8500000, 11/2026); its URL."""
    pages.register(page, portal)
    user, password = pages.read_account_mail(page, portal)
    assert password
    pages.login(page, portal, user, password)
    return pages.prepare_dossier(page, portal).split("?")[0]


def _edit(page: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f"[name={name}]").fill(value)


def _signed_posts(page: Any) -> list[str]:
    """The signed dossiers the page posts to "Kiểm tra hồ sơ" from now on (XML text, with the
    embedded D02-TS form decoded, so its rows can be read)."""
    posted: list[str] = []

    def grab(request: Any) -> None:
        if request.method != "POST" or not request.url.endswith("/nop-ho-so/kiem-tra"):
            return
        body = request.post_data_buffer or b""
        match = re.search(rb'name="signed_document"\r\n\r\n([A-Za-z0-9+/=]+)', body)
        if match:
            xml = base64.b64decode(match.group(1))
            form = re.search(rb"<NoiDungFile>([^<]+)</NoiDungFile>", xml)
            posted.append((xml + (base64.b64decode(form.group(1)) if form else b"")).decode())

    page.on("request", grab)
    return posted


def _answered(stack: Stack, since: int, kind: str) -> bool:
    with stack.agent.log_path.open("rb") as log:
        log.seek(since)
        return f"scripted prompter answered {kind}".encode() in log.read()


def _refused(form: Any, code: str, *words: str) -> None:
    status = pages.wait_status_error(form, code)
    text = status.inner_text()
    for word in words:
        assert word in text, text


def test_unsaved_edits_are_never_signed(stack: Stack, portal: str, page: Any) -> None:
    """Edited on the page, not saved: "Ký và nộp" refuses without a word to Kyso; edited
    while Kyso's window is open: the signature is dropped; after "Ghi" the edited dossier is
    the one signed."""
    draft_url = _logged_in_with_draft(page, portal)
    posted = _signed_posts(page)
    _edit(page, EDITED)
    form = pages.wait_attached(page, "sign-dossier")
    offset = stack.agent.log_size()
    pages.press(form, "Ký và nộp")
    _refused(form, "E424", "chưa được ghi", "Ghi")
    harness.screenshot(page, "draft-unsaved-refused", full_page=False)
    page.wait_for_timeout(300)
    assert posted == [] and page.url.startswith(draft_url)
    assert not _answered(stack, offset, "certificate") and not _answered(stack, offset, "consent")

    # Edited back to the saved values: nothing unsaved, but a slow user edits again while
    # Kyso's consent is open. The signature (of the saved version) is not sent.
    page.goto(draft_url)
    stack.answer(delay_seconds={"consent": 2.0})
    form = pages.wait_attached(page, "sign-dossier")
    offset = stack.agent.log_size()
    pages.press(form, "Ký và nộp")
    # The page has fetched the saved version and handed it to Kyso; the consent is open.
    form.locator(".kyso-status", has_text="Mời bạn làm tiếp trong cửa sổ Kyso").wait_for()
    assert not _answered(stack, offset, "consent")
    page.locator("[name=dong-0-MucLuong]").fill("99000000")
    _refused(form, "E424")
    assert _answered(stack, offset, "pin") and posted == []
    stack.answer()

    # "Ghi" first (the page now shows version 2), then "Ký và nộp": the edited dossier.
    page.goto(draft_url)
    _edit(page, EDITED)
    page.get_by_role("button", name="Ghi", exact=True).click()
    page.locator(".alert-ok", has_text="Đã ghi hồ sơ").wait_for()
    assert page.locator("[data-draft-revision]").get_attribute("data-draft-revision") == "2"
    pages.sign_and_check(page)
    assert len(posted) == 1
    for value in ("Lê Thị Bình", "99000000", "<KyKeKhai>12/2026</KyKeKhai>"):
        assert value in posted[0], value
    for value in ("Nguyễn Văn An", "8500000", "<KyKeKhai>11/2026</KyKeKhai>"):
        assert value not in posted[0], value
    assert page.locator("dt:has-text('Kỳ kê khai') + dd").inner_text().strip() == "12/2026"


def test_a_save_in_another_tab_is_never_signed_over(stack: Stack, portal: str, page: Any) -> None:
    """Tab A shows the draft; tab B saves it: A's "Ký và nộp" is refused (E422) before Kyso is
    asked. A save between A's export and its check is refused at the check (E422)."""
    draft_url = _logged_in_with_draft(page, portal)
    other = page.context.new_page()
    try:
        other.goto(draft_url)
        _edit(other, EDITED)
        other.get_by_role("button", name="Ghi", exact=True).click()
        other.locator(".alert-ok", has_text="Đã ghi hồ sơ").wait_for()

        posted = _signed_posts(page)
        form = pages.wait_attached(page, "sign-dossier")
        offset = stack.agent.log_size()
        pages.press(form, "Ký và nộp")
        _refused(form, "E422", "phiên bản 1", "phiên bản 2")
        harness.screenshot(page, "draft-changed-refused", full_page=False)
        assert posted == [] and not _answered(stack, offset, "consent")

        # Reloaded: version 2. Tab B saves version 3 while A's signed file is on its way.
        page.goto(draft_url)
        held: list[Any] = []
        page.route("**/nop-ho-so/kiem-tra", lambda route: held.append(route))
        form = pages.wait_attached(page, "sign-dossier")
        pages.press(form, "Ký và nộp")
        while not held:
            page.wait_for_timeout(100)
        other.goto(draft_url)
        _edit(other, {"dong-0-MucLuong": "12000000"})
        other.get_by_role("button", name="Ghi", exact=True).click()
        other.locator(".alert-ok", has_text="Đã ghi hồ sơ").wait_for()
        held[0].continue_()
        box = page.locator(".alert-error[data-error-code='E422']")
        box.wait_for()
        assert "phiên bản 2" in box.inner_text() and "phiên bản 3" in box.inner_text()
        page.unroute("**/nop-ho-so/kiem-tra")
        assert len(posted) == 1 and "99000000" in posted[0]

        # What the unit sees now (version 3) is what it signs.
        page.goto(draft_url)
        pages.sign_and_check(page)
        assert "12000000" in posted[-1] and "99000000" not in posted[-1]
        assert pages.submit_checked(page)
    finally:
        other.close()


def test_a_site_that_opens_the_portal_cannot_navigate_it(
    stack: Stack, portal: str, page: Any
) -> None:
    """Cross-Origin-Opener-Policy: same-origin. Another site's window.open() of the portal
    gets no live handle: it cannot turn the portal's tab into a look-alike log-in (tabnabbing)."""
    hostile = f"https://127.0.0.1:{stack.other_port}/trang-la"
    page.context.route(
        hostile + "*",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>x</title>"
        ),
    )
    page.goto(hostile)
    with page.context.expect_page() as opened:
        page.evaluate("url => { window.portalTab = window.open(url); }", f"{portal}/dang-nhap")
    portal_tab = opened.value
    portal_tab.get_by_role("button", name="Đăng nhập").wait_for()
    assert portal_tab.evaluate("window.opener === null")
    assert page.evaluate("window.portalTab.closed")
    page.evaluate(
        "url => { try { window.portalTab.location = url; } catch (e) {} }", hostile + "#dang-nhap"
    )
    portal_tab.wait_for_timeout(1000)
    assert portal_tab.url == f"{portal}/dang-nhap"
    portal_tab.close()
