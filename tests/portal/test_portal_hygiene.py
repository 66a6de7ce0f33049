"""The stand-in portal's log-in and session hygiene, and its answers to malformed forms (red
team 35): wrong passwords are throttled per user name (E109), the argon2 check runs off the
event loop, a session in use still ends, https answers carry HSTS, an unreadable multipart body
is the sender's E106 (not E501), and the "Ngưng dịch vụ" note is bounded."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agent.signing.trust import TrustStore
from portal_stub import accounts
from portal_stub.app import create_app
from portal_stub.config import PortalConfig
from portal_stub.forms import MAX_NOTE_CHARS
from portal_stub.web.common import ANONYMOUS_BODY_BYTES
from tests.portal.conftest import FakeClock
from tests.portal.helpers import PortalDriver

WRONG = {"username": "0101234567", "password": "Wrong-Pass-1"}


async def test_wrong_passwords_pause_the_user_name_then_it_works_again(
    portal: PortalDriver, clock: FakeClock
) -> None:
    status, body = await portal.register()
    assert status == 200, body
    username, password = body["username"], await portal.mailed_password()
    for _ in range(accounts.LOGIN_FAILURES):
        status, body = await portal.request(
            "POST", "/api/v1/login", json=WRONG | {"username": username}
        )
        assert status == 401 and body["error"]["code"] == "E101"
    # Paused: even the right password is refused, before any password work.
    status, body = await portal.request(
        "POST", "/api/v1/login", json={"username": username, "password": password}
    )
    assert status == 429 and body["error"]["code"] == "E109", body
    assert "15" in body["error"]["message_vi"] or "phút" in body["error"]["message_vi"]
    # Another user name is not affected; once the window has passed, the right password works.
    status, body = await portal.request("POST", "/api/v1/login", json=WRONG | {"username": "x"})
    assert status == 401
    clock.advance(minutes=16)
    await portal.login(username, password)


async def test_the_password_check_does_not_hold_the_event_loop(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a log-in's password check runs, the portal still answers other requests (it ran
    argon2 on the event loop: 40 log-ins at once held every page for seconds)."""
    started, release = threading.Event(), threading.Event()

    def slow_check(stored: str, password: str) -> bool:
        started.set()
        release.wait(30)
        return False

    monkeypatch.setattr(accounts, "check_password", slow_check)
    login = asyncio.create_task(portal.request("POST", "/api/v1/login", json=WRONG))
    try:
        assert await asyncio.to_thread(started.wait, 30)
        status, _ = await asyncio.wait_for(portal.request("GET", "/api/v1/catalogues/offices"), 10)
        assert status == 200
        assert not login.done()
    finally:
        release.set()
    status, _ = await login
    assert status == 401


async def test_a_session_in_use_still_ends(portal: PortalDriver, clock: FakeClock) -> None:
    await portal.register_and_login()
    status = 200
    for _ in range(3):  # a request every 5 hours: never idle for 8 h
        clock.advance(hours=5)
        status, _ = await portal.request("GET", "/api/v1/account")
        if status == 401:
            break
    assert status == 401, "a session used every 5 h was still valid after 15 h"


@pytest.mark.parametrize(
    ("origin", "hsts"), [("https://kekhai.example.vn", True), ("http://127.0.0.1:8600", False)]
)
async def test_hsts_when_served_over_https(
    aiohttp_client: Any, portal_trust: TrustStore, tmp_path: Any, origin: str, hsts: bool
) -> None:
    config = PortalConfig(db_path=tmp_path / "p.sqlite3", smtp_port=0, public_origin=origin)
    client = await aiohttp_client(create_app(config, portal_trust))
    for path in ("/", "/khong-co"):  # a page and an error page
        response = await client.get(path)
        assert ("max-age=" in response.headers.get("Strict-Transport-Security", "")) is hsts


NAMELESS = b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n"
MULTIPART = {"Content-Type": "multipart/form-data; boundary=x"}


@pytest.mark.parametrize(
    "path", ["/api/v1/challenge", "/api/v1/register", "/dang-nhap", "/dang-ky"]
)
@pytest.mark.parametrize("body", [NAMELESS, b"garbage--x\r\n"], ids=["nameless", "broken"])
async def test_an_unreadable_form_is_the_senders_error(
    portal: PortalDriver, path: str, body: bytes
) -> None:
    response = await portal.client.post(path, data=body, headers=MULTIPART)
    text = await response.text()
    assert response.status < 500, (response.status, text[:300])
    assert "E501" not in text


async def test_the_cancel_note_is_bounded(portal: PortalDriver) -> None:
    await portal.register_and_login()
    for size, expected in ((MAX_NOTE_CHARS, 200), (MAX_NOTE_CHARS + 1, 400)):
        status, body = await portal.request(
            "POST",
            "/api/v1/challenge",
            json={"action": "cancel", "fields": {"ly_do": "04", "ghi_chu": "x" * size}},
        )
        assert status == expected, (size, str(body)[:200])


@pytest.mark.parametrize("path", ["/api/v1/login", "/api/v1/register", "/dang-nhap"])
async def test_an_anonymous_body_of_megabytes_is_refused_unread(
    portal: PortalDriver, path: str
) -> None:
    """Without a logged-in unit a body is at most ANONYMOUS_BODY_BYTES (the app's limit, sized
    for dossiers with attachments, let anyone make the portal read 86 MB)."""
    if path.startswith("/api/"):
        body = b'{"username": "' + b"a" * (2 * ANONYMOUS_BODY_BYTES) + b'", "password": "x"}'
        kind = "application/json"
    else:  # the page's own form
        body, kind = (
            b"ten_dang_nhap=" + b"a" * (2 * ANONYMOUS_BODY_BYTES),
            "application/x-www-form-urlencoded",
        )
    response = await portal.client.post(path, data=body, headers={"Content-Type": kind})
    text = await response.text()
    assert response.status == 413 and "E110" in text, (response.status, text[:200])


async def test_a_logged_in_unit_keeps_the_larger_limit(portal: PortalDriver) -> None:
    await portal.register_and_login()
    status, body = await portal.request(
        "POST",
        "/api/v1/challenge",
        json={
            "action": "cancel",
            "fields": {"ly_do": "04", "ghi_chu": "x"},
            "pad": "y" * 2_000_000,
        },
    )
    assert status != 413, body
