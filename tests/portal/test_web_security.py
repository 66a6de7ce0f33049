"""Portal web security: redirects after log-in stay on the portal, other sites cannot post to
it (login CSRF included), and every response carries the security headers."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from aiohttp import FormData
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_stub.security import cross_site, normal_origin, safe_next_url
from portal_stub.web.common import PORTAL
from tests.portal.helpers import PortalDriver

EVIL = "https://evil.example"

# Each of these, after a log-in, must land on the home page, never anywhere else.
OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\t/evil.example",
    "\t//evil.example",
    "/\r\n/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "/\x00/evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "/%252F%252Fevil.example",  # encoded twice
    "/%25252F%25252Fevil.example",  # three times
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\u2215\u2215evil.example",  # division slash
    "/\uff0f\uff0fevil.example",  # fullwidth solidus
    "/\u3002evil.example",
    "/x\r\nSet-Cookie: a=b",
    "/%C0%AF/evil.example",  # overlong UTF-8 "/"
    "/%ff",
    "/%E2%88%95%E2%88%95evil.example",  # encoded division slashes
    "/" + "a" * 5000,
    "",
]
SAME_SITE = ["/tai-khoan", "/nop-ho-so", "/tra-cuu/ho-so?xem=1&ky=11%2F2026", "/a%2Fb"]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_redirect_target_off_the_site_falls_back_to_home(target: str) -> None:
    assert safe_next_url(target) == "/tai-khoan"


@pytest.mark.parametrize("target", SAME_SITE)
def test_redirect_target_on_the_site_is_kept(target: str) -> None:
    assert safe_next_url(target) == target


_URLISH = st.text(
    alphabet=st.sampled_from(list("/\\:%.@?#&= \t\r\n\x00aeEvil2F5Cc0ABf\u2215\uff0f\u3002")),
    max_size=40,
)


@settings(max_examples=300)
@given(target=_URLISH | st.text(max_size=40))
def test_any_redirect_target_stays_on_the_portal(target: str) -> None:
    result = safe_next_url(target)
    assert result in (target, "/tai-khoan")
    assert _lands_on_portal(result, "https://portal.example")
    # Browsers and proxies may decode once more: still a path here.
    decoded = urllib.parse.unquote(result)
    assert not decoded.startswith(("//", "/\\")) and "\\" not in decoded


def _lands_on_portal(location: str, origin: str) -> bool:
    """What a browser would do with the Location: stay on ``origin``?"""
    if any(ord(c) < 0x21 or ord(c) > 0x7E or c == "\\" for c in location):
        return False
    if not location.startswith("/") or location.startswith("//"):
        return False
    joined = urllib.parse.urlsplit(urllib.parse.urljoin(origin + "/", location))
    return f"{joined.scheme}://{joined.netloc}" == origin


async def _credentials(portal: PortalDriver) -> tuple[str, str]:
    status, body = await portal.register()
    assert status == 200, body
    password = await portal.mailed_password()
    assert password
    return body["username"], password


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


async def test_login_never_redirects_off_the_portal(portal: PortalDriver) -> None:
    username, password = await _credentials(portal)
    for target in [*OPEN_REDIRECTS, *SAME_SITE]:
        # The log-in page does not carry a foreign target in its form either.
        query = urllib.parse.urlencode({"tiep": target})
        resp = await portal.client.get(f"/dang-nhap?{query}")
        html = await resp.text()
        assert resp.status == 200
        shown = _hidden(html, "tiep")
        assert shown == ("/tai-khoan" if target in OPEN_REDIRECTS else target.replace("&", "&amp;"))
        resp = await portal.client.post(
            "/dang-nhap",
            data={
                "csrf_token": _hidden(html, "csrf_token"),
                "ten_dang_nhap": username,
                "mat_khau": password,
                "tiep": target,
            },
            allow_redirects=False,
        )
        assert resp.status == 303, target
        location = resp.headers["Location"]
        assert _lands_on_portal(location, portal.origin), (target, location)
        expected = "/tai-khoan" if target in OPEN_REDIRECTS else target
        # aiohttp writes %2F in a query as "/": the same address.
        assert urllib.parse.unquote(location) == urllib.parse.unquote(expected), target


async def test_login_required_redirect_keeps_the_whole_page_address(
    portal: PortalDriver,
) -> None:
    username, password = await _credentials(portal)
    page = "/tra-cuu/ho-so?xem=1&ky=11%2F2026"
    resp = await portal.client.get(page, allow_redirects=False)
    assert resp.status == 303
    login_url = resp.headers["Location"]
    parts = urllib.parse.urlsplit(login_url)
    # The page's own query stays inside "tiep" (its "&" does not start a new parameter).
    assert parts.path == "/dang-nhap" and list(urllib.parse.parse_qs(parts.query)) == ["tiep"]
    tiep = urllib.parse.parse_qs(parts.query)["tiep"][0]
    assert urllib.parse.unquote(tiep) == urllib.parse.unquote(page)
    html = await (await portal.client.get(login_url)).text()
    assert _hidden(html, "tiep") == tiep.replace("&", "&amp;")
    resp = await portal.client.post(
        "/dang-nhap",
        data={
            "csrf_token": _hidden(html, "csrf_token"),
            "ten_dang_nhap": username,
            "mat_khau": password,
            "tiep": page,
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    assert urllib.parse.unquote(resp.headers["Location"]) == urllib.parse.unquote(page)


# --- cross-site requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "fetch_site", "refused"),
    [
        (EVIL, None, True),
        ("null", None, True),
        ("http://127.0.0.1:8600.evil.example", None, True),
        ("http://127.0.0.1:8601", None, True),  # another port is another origin
        ("https://127.0.0.1:8600", None, True),  # and another scheme
        ("not a url", None, True),
        (None, "cross-site", True),
        (None, "same-site", True),  # a sibling subdomain is not the portal
        ("http://127.0.0.1:8600", "cross-site", True),
        ("http://127.0.0.1:8600", None, False),
        ("HTTP://127.0.0.1:8600", "same-origin", False),
        (None, "none", False),  # typed into the address bar / a bookmark
        (None, None, False),  # a program: no cookie of a victim to ride on
    ],
)
def test_cross_site_rule(origin: str | None, fetch_site: str | None, refused: bool) -> None:
    assert (cross_site(origin, fetch_site, "http://127.0.0.1:8600") is not None) is refused


def test_default_ports_compare_like_browsers_send_them() -> None:
    assert normal_origin("https://Portal.example:443/") == "https://portal.example"
    assert normal_origin("http://[::1]:8600") == "http://[::1]:8600"
    assert normal_origin("ftp://x") is None
    assert cross_site("https://portal.example", None, "https://portal.example:443") is None


def _bodies(username: str, password: str) -> list[tuple[str, dict[str, Any]]]:
    """The same log-in as each content type a cross-site page can send (and JSON)."""
    values = {"username": username, "password": password, "mode": "cookie"}
    multipart = FormData()
    for key, value in values.items():
        multipart.add_field(key, value)
    return [
        ("urlencoded", {"data": values}),
        ("multipart", {"data": multipart}),
        (
            "text/plain",
            {
                "data": f"username={username}&password={password}&mode=cookie",
                "headers": {"Content-Type": "text/plain"},
            },
        ),
        ("json", {"json": values}),
    ]


async def test_cross_site_login_is_refused_for_every_content_type(portal: PortalDriver) -> None:
    username, password = await _credentials(portal)
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        for kind, kwargs in _bodies(username, password):
            extra = {**kwargs.pop("headers", {}), **headers}
            resp = await portal.client.post("/api/v1/login", headers=extra, **kwargs)
            body = await resp.json()
            assert resp.status == 403, (kind, headers, body)
            assert body["error"]["code"] == "E108" and body["error"]["key"] == "CROSS_SITE_REFUSED"
            assert "Set-Cookie" not in resp.headers, kind
    # Without Origin and Sec-Fetch-Site (an old browser), a form still cannot log in: the
    # API takes JSON only, which another site cannot send without a preflight.
    for kind, kwargs in _bodies(username, password)[:3]:
        resp = await portal.client.post("/api/v1/login", **kwargs)
        body = await resp.json()
        assert resp.status == 400 and body["error"]["code"] == "E106", kind
        assert "Set-Cookie" not in resp.headers, kind
    # The portal's own page, and programs that send no Origin, still log in.
    for headers in ({"Origin": portal.origin, "Sec-Fetch-Site": "same-origin"}, {}):
        resp = await portal.client.post(
            "/api/v1/login",
            json={"username": username, "password": password, "mode": "cookie"},
            headers=headers,
        )
        assert resp.status == 200, await resp.text()


def _post_paths(portal: PortalDriver) -> list[str]:
    """Every POST route of the app, with its path parameters filled in."""
    paths = []
    for route in portal.client.app.router.routes():
        if route.method != "POST":
            continue
        canonical = route.resource.canonical if route.resource is not None else ""
        paths.append(re.sub(r"\{[^}]+\}", "1", canonical))
    return sorted(set(paths))


async def test_every_post_endpoint_refuses_another_site(portal: PortalDriver) -> None:
    # A logged-in page session with its valid CSRF token: the token alone must not be enough
    # when the browser says the request comes from another site.
    username, password = await _credentials(portal)
    html = await (await portal.client.get("/dang-nhap")).text()
    resp = await portal.client.post(
        "/dang-nhap",
        data={
            "csrf_token": _hidden(html, "csrf_token"),
            "ten_dang_nhap": username,
            "mat_khau": password,
            "tiep": "/tai-khoan",
        },
    )
    csrf = _hidden(await resp.text(), "csrf_token")
    paths = _post_paths(portal)
    assert {"/api/v1/login", "/dang-nhap", "/dang-xuat", "/dang-ky", "/nop-ho-so/nop"} <= set(paths)
    for path in paths:
        for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}):
            resp = await portal.client.post(
                path,
                data={"csrf_token": csrf, "upload_id": "x"},
                headers={**headers, "X-CSRF-Token": csrf},
                allow_redirects=False,
            )
            assert resp.status == 403, (path, headers, resp.status)
            text = await resp.text()
            assert "E108" in text, path
    # Still logged in: none of the refused posts (log-out included) did anything.
    resp = await portal.client.get("/tai-khoan", allow_redirects=False)
    assert resp.status == 200


# --- headers and cookies ----------------------------------------------------------------------------


async def test_security_headers_on_pages_errors_and_api(portal: PortalDriver) -> None:
    checks = [
        await portal.client.get("/"),
        await portal.client.get("/khong-co-trang-nay"),
        await portal.client.post("/api/v1/login", json={}, headers={"Origin": EVIL}),
        await portal.client.get("/api/v1/khong-co"),
        await portal.client.post("/dang-xuat", data={}, headers={"Origin": EVIL}),
        await portal.client.get("/api/v1/catalogues/errors"),  # a JSON answer, not an error
    ]
    for resp in checks:
        headers = resp.headers
        assert headers["X-Content-Type-Options"] == "nosniff", resp.url
        assert headers["X-Frame-Options"] == "DENY", resp.url
        assert headers["Referrer-Policy"] == "same-origin", resp.url
        assert headers["Cache-Control"] == "no-store", resp.url  # JSON answers too
        if resp.content_type == "text/html":
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], resp.url
            # Another site that window.open()s the portal cannot navigate its tab (redteam6 F3).
            assert headers["Cross-Origin-Opener-Policy"] == "same-origin", resp.url
    assert sum(r.content_type == "text/html" for r in checks) >= 3
    assert checks[-1].status == 200 and checks[-1].content_type == "application/json"


async def test_demo_mailbox_only_with_the_demo_sink(portal: PortalDriver) -> None:
    """/hop-thu shows every unit's account mail, passwords included, to anyone: only when the
    portal runs its demo SMTP sink (as /api/v1/mailbox), and labelled demo-only (redteam6 F4)."""
    portal.client.app[PORTAL].db.run(
        "INSERT INTO mail (mail_from, rcpt_to, subject, body, received_at) VALUES "
        "('a@b', 'ketoan@kyso-demo.vn', 'Tài khoản', 'Mật khẩu: bi-mat-123', "
        "'2026-11-01T00:00:00+00:00')"
    )
    resp = await portal.client.get("/hop-thu")
    page = await resp.text()
    assert resp.status == 200 and "data-demo-only" in page and "Chỉ dành cho bản thử nghiệm" in page
    mail_id = re.search(r'href="/hop-thu/(\d+)"', page).group(1)  # type: ignore[union-attr]
    resp = await portal.client.get(f"/hop-thu/{mail_id}")
    page = await resp.text()
    assert resp.status == 200 and "bi-mat-123" in page and "data-demo-only" in page

    portal.config.smtp_sink = False  # mail goes to a real SMTP server
    for path in ("/hop-thu", f"/hop-thu/{mail_id}", "/api/v1/mailbox"):
        resp = await portal.client.get(path)
        text = await resp.text()
        assert resp.status == 404 and "E107" in text, path
        assert "bi-mat-123" not in text and "ketoan@kyso-demo.vn" not in text, path
    resp = await portal.client.get("/")
    assert 'href="/hop-thu"' not in await resp.text()  # nor in the menu


async def test_session_cookie_flags(portal: PortalDriver) -> None:
    resp = await portal.client.get("/")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    # http in tests; https origins get Secure and the __Host- prefix.
    assert "Secure" not in cookie and cookie.startswith("kyso_portal=")
    portal.config.public_origin = "https://127.0.0.1:8600"
    portal.client.session.cookie_jar.clear()
    resp = await portal.client.get("/")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("__Host-kyso_portal=") and "Secure" in cookie
