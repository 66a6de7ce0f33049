"""What anyone without an account can make the stand-in portal keep or wait for (red team 35):
registration challenges are counted per address and in all, expired ones go, page sessions
without a log-in are bounded, a challenge a page's session asked for is answered from that
session only, /static/ serves page assets only, and a body that stalls is dropped (E112)."""

from __future__ import annotations

import asyncio
import base64
import re

import pytest

from portal_stub import challenges, sessions
from portal_stub.web import common
from portal_stub.web.common import PORTAL
from tests.portal.conftest import FakeClock
from tests.portal.helpers import UNIT, PortalDriver

REGISTER = {"action": "register", "fields": UNIT}


async def _anonymous_challenge(portal: PortalDriver) -> tuple[int, dict[str, object]]:
    status, body = await portal.request("POST", "/api/v1/challenge", json=REGISTER)
    return status, body


def _count(portal: PortalDriver, sql: str) -> int:
    row = portal.client.app[PORTAL].db.one(sql)
    assert row is not None
    return int(row[0])


async def test_registration_challenges_are_counted_per_address(
    portal: PortalDriver, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(challenges, "ANONYMOUS_PER_ADDRESS", 3)
    await portal.register_and_login()  # its registration was the address's first challenge
    bearer = portal.headers.pop("Authorization")
    for _ in range(2):
        status, body = await _anonymous_challenge(portal)
        assert status == 200, body
    status, body = await _anonymous_challenge(portal)
    assert status == 429 and body["error"]["code"] == "E111", body  # type: ignore[index]
    assert "phút" in body["error"]["message_vi"]  # type: ignore[index]
    # A logged-in unit's own challenges are not counted against the address.
    status, body = await portal.request(
        "POST",
        "/api/v1/challenge",
        json={"action": "cancel", "fields": {"ly_do": "01"}},
        headers={"Authorization": bearer},
    )
    assert status == 200, body
    # Once a challenge's lifetime has passed, the address may ask again.
    clock.advance(minutes=6)
    status, body = await _anonymous_challenge(portal)
    assert status == 200, body


async def test_waiting_registration_challenges_are_capped_in_all(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(challenges, "MAX_PENDING_ANONYMOUS", 2)
    for _ in range(2):
        assert (await _anonymous_challenge(portal))[0] == 200
    status, body = await _anonymous_challenge(portal)
    assert status == 429 and body["error"]["code"] == "E111", body  # type: ignore[index]


async def test_expired_challenges_are_deleted_after_one_more_lifetime(
    portal: PortalDriver, clock: FakeClock
) -> None:
    for _ in range(3):
        assert (await _anonymous_challenge(portal))[0] == 200
    clock.advance(minutes=11)  # 5 to expire, 5 more kept to say "expired"
    assert (await _anonymous_challenge(portal))[0] == 200
    assert _count(portal, "SELECT COUNT(*) FROM challenges") == 1


async def test_page_sessions_without_a_log_in_are_bounded(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "MAX_ANONYMOUS_SESSIONS", 5)
    monkeypatch.setattr(sessions, "TRIM_EVERY", 1)
    await portal.register_and_login()  # a logged-in unit's session is never trimmed
    for _ in range(12):
        portal.client.session.cookie_jar.clear()  # a visitor that never keeps its cookie
        response = await portal.client.get("/dang-nhap")
        assert response.status == 200
    assert _count(portal, "SELECT COUNT(*) FROM sessions WHERE account_id IS NULL") == 5
    assert _count(portal, "SELECT COUNT(*) FROM sessions WHERE account_id IS NOT NULL") == 1
    status, _ = await portal.request("GET", "/api/v1/account")
    assert status == 200


async def _page_session(portal: PortalDriver) -> str:
    """A fresh cookie session, as a browser gets one: its CSRF token from the page."""
    portal.client.session.cookie_jar.clear()
    response = await portal.client.get("/dang-ky")
    match = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert match, "no CSRF token on the page"
    return match.group(1)


async def test_a_challenge_asked_by_a_page_session_is_answered_from_it_only(
    portal: PortalDriver,
) -> None:
    csrf = await _page_session(portal)
    asked = portal.client.session.cookie_jar.filter_cookies(portal.client.make_url("/"))
    status, body = await portal.request(
        "POST", "/api/v1/challenge", json=REGISTER, headers={"X-CSRF-Token": csrf}
    )
    assert status == 200, body
    signed = await portal.sign_request("org", base64.b64decode(body["request"]))
    answer = {"fields": UNIT, "signed_request": signed}
    # The signed request leaks to another browser: refused there, before the nonce is spent.
    other = await _page_session(portal)
    status, body = await portal.request(
        "POST", "/api/v1/register", json=answer, headers={"X-CSRF-Token": other}
    )
    assert status != 200 and body["error"]["code"] == "E202", body
    # The page that asked can still use it.
    portal.client.session.cookie_jar.clear()
    portal.client.session.cookie_jar.update_cookies(asked)
    status, body = await portal.request(
        "POST", "/api/v1/register", json=answer, headers={"X-CSRF-Token": csrf}
    )
    assert status == 200, body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/static/portal.css", 200),
        ("/static/portal-sign.js", 200),
        ("/static/__init__.py", 404),
        ("/static/__pycache__", 404),
        ("/static/", 404),
        ("/static/..%2fapp.py", 404),
        ("/static/missing.js", 404),
    ],
)
async def test_static_serves_the_pages_assets_only(
    portal: PortalDriver, path: str, status: int
) -> None:
    response = await portal.client.get(path)
    assert response.status == status, path
    if status == 404:
        assert "E107" in await response.text()


@pytest.mark.parametrize("path", ["/api/v1/login", "/dang-nhap"])
async def test_a_body_that_stalls_is_dropped(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """A client that announces a body and sends a byte now and then gets E112 (408) once the
    body's time is up, rather than holding the connection for ever."""
    monkeypatch.setattr(common, "BODY_SECONDS", 0.5)
    server = portal.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    kind = "application/json" if path.startswith("/api/") else "application/x-www-form-urlencoded"
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Content-Type: {kind}\r\nContent-Length: 1000\r\n\r\n{{".encode()
    )
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
    text = head.decode("utf-8", "replace")
    assert text.startswith("HTTP/1.1 408"), text[:300]
    assert "E112" in text


async def test_each_address_has_its_own_count_and_an_ipv6_host_is_one(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 38: one bucket for everyone passed the per-address test; and an IPv6 host picks
    any address of its /64, so the /64 is what is counted."""
    from portal_stub.quota import client_key

    monkeypatch.setattr(challenges, "ANONYMOUS_PER_ADDRESS", 1)
    service = portal.client.app[PORTAL]

    def ask(client: str) -> None:
        service.issue_challenge("register", UNIT, None, None, client)

    ask("192.0.2.1")
    ask("192.0.2.2")  # another address: admitted
    ask("2001:db8:1:2::1")
    for client in ("192.0.2.1", "2001:db8:1:2:ffff::9"):
        with pytest.raises(Exception) as refused:
            ask(client)
        assert getattr(refused.value, "code", "") == "E111"
    assert (
        client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    )
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"


async def test_cookieless_visits_past_an_address_quota_do_not_push_out_a_visitors_session(
    portal: PortalDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 38: trimming the least recently used sessions let 20,000 cookieless GETs end
    every visitor's form (CSRF refused). Past its quota an address gets pages without one."""
    monkeypatch.setattr(sessions, "ANONYMOUS_PER_ADDRESS", 3)
    monkeypatch.setattr(sessions, "MAX_ANONYMOUS_SESSIONS", 3)
    monkeypatch.setattr(sessions, "TRIM_EVERY", 1)
    csrf = await _page_session(portal)  # the visitor, filling in the log-in form
    visitor = portal.client.session.cookie_jar.filter_cookies(portal.client.make_url("/"))
    for _ in range(10):  # a client that never keeps its cookie
        portal.client.session.cookie_jar.clear()
        assert (await portal.client.get("/dang-nhap")).status == 200
    assert _count(portal, "SELECT COUNT(*) FROM sessions WHERE account_id IS NULL") == 3
    portal.client.session.cookie_jar.clear()
    portal.client.session.cookie_jar.update_cookies(visitor)
    response = await portal.client.post(
        "/dang-nhap", data={"csrf_token": csrf, "ten_dang_nhap": "x", "mat_khau": "y"}
    )
    assert "E103" not in await response.text()  # CSRF_INVALID: the visitor's session was gone


def test_a_site_turning_to_another_ipv6_network_each_time_is_counted_as_a_site() -> None:
    """Review 39: a /48 holds 65,536 /64s, so a client holding one got a fresh count per /64.
    Its /48 is counted too, at IPV6_SITE_FACTOR times one address's limit; IPv4 is not grouped
    (many offices share one NAT address)."""
    import datetime as dt

    from portal_stub.quota import IPV6_SITE_FACTOR, AddressQuota, client_keys

    quota, now, window = AddressQuota(), dt.datetime(2026, 12, 8, tzinfo=dt.UTC), dt.timedelta(1)

    def admit(address: str) -> bool:
        return quota.admit(address, limit=2, window=window, now=now)

    networks = [f"2001:db8:7:{n:x}::1" for n in range(100)]
    admitted = [a for a in networks if admit(a)]
    assert len(admitted) == 2 * IPV6_SITE_FACTOR
    assert admit("2001:db8:8::1")  # another site: its own count
    assert all(admit(f"192.0.2.{n}") for n in range(1, 50))  # one each, no grouping
    assert client_keys("2001:db8:7:5::9") == (
        ("2001:db8:7:5::/64", 1),
        ("2001:db8:7::/48", IPV6_SITE_FACTOR),
    )
    later = now + window + dt.timedelta(seconds=1)
    assert quota.admit(networks[-1], limit=2, window=window, now=later)  # the window passed
