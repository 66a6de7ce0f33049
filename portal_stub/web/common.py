"""Shared web plumbing: app keys, sessions and CSRF, rendering, error handling, headers."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import jinja2
from aiohttp import web

from portal_stub.errors import CATALOGUE, PortalError
from portal_stub.portal import Portal
from portal_stub.security import cross_site, safe_next_url, same_token
from portal_stub.sessions import Session
from portal_stub.timefmt import when

log = logging.getLogger(__name__)

PORTAL: web.AppKey[Portal] = web.AppKey("portal", Portal)
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The bridge script talks to the local Kyso agent on loopback (ports 27443-27445), and after a
# failure pings http://127.0.0.1:27442/v1/ping to tell "not running" from "not trusted".
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' https://127.0.0.1:* wss://127.0.0.1:* https://localhost:* "
    "wss://localhost:* http://127.0.0.1:27442; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)


# A body must arrive within BODY_SECONDS plus its size at BODY_MIN_RATE: a client that sends a
# byte now and then (slowloris) must not hold a connection and its buffers for ever. aiohttp
# bounds neither the headers' nor the body's time; a deployment puts a proxy with header
# timeouts in front (docs/portal-api.md).
BODY_SECONDS = 30.0
BODY_MIN_RATE = 50_000  # bytes per second


async def read_within(request: web.Request, read: Awaitable[T]) -> T:
    """``read`` (one of the request's body reads), or E112 once the body's time is up."""
    expected = request.content_length
    size = request.client_max_size if expected is None else min(expected, request.client_max_size)
    seconds = BODY_SECONDS + size / BODY_MIN_RATE
    try:
        async with asyncio.timeout(seconds):
            return await read
    except TimeoutError:
        log.info(
            "%s %s: request body not received within %.0f s", request.method, request.path, seconds
        )
        raise PortalError("REQUEST_TIMEOUT", {"seconds": round(seconds)}) from None


async def read_form(request: web.Request) -> Any:
    """The request's form fields; a body that is no readable form (a multipart part without a
    name, a broken boundary) is the sender's E106, not the portal's E501."""
    try:
        return await read_within(request, request.post())
    except ValueError:
        raise PortalError(
            "FORM_INVALID", {"detail": "biểu mẫu gửi lên không đọc được / unreadable form"}
        ) from None


def cookie_name(request: web.Request) -> str:
    """``__Host-`` prefixed when the portal is served over https (the browser then insists on
    Secure, Path=/ and no Domain)."""
    return "__Host-kyso_portal" if request.app[PORTAL].config.secure_cookies else "kyso_portal"


def templates() -> jinja2.Environment:
    """The Jinja environment (autoescape on for every template)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("portal_stub", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vnd"] = lambda n: f"{int(n):,}".replace(",", ".")
    env.filters["when"] = when  # Vietnam time, labelled
    # Catalogue texts have {placeholders} filled per error; listed alone they read "…".
    env.filters["generic"] = lambda text: re.sub(r"\{[a-z_]+\}", "…", text)
    return env


def signed_request_response(row: sqlite3.Row) -> web.Response:
    """A stored signed account request as a download (never rendered: it is the unit's file)."""
    return web.Response(
        body=bytes(row["signed_request"]),
        content_type="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="yeu-cau-tai-khoan-{row["id"]}.xml"'
        },
    )


def is_api(request: web.Request) -> bool:
    """JSON API request?"""
    return request.path.startswith("/api/")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the session (bearer header or cookie); give page visitors a cookie session."""
    portal = request.app[PORTAL]
    session: Session | None = None
    new_cookie: str | None = None
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        session = portal.sessions.get(auth[7:].strip(), "bearer")
        if session is None:
            raise PortalError("LOGIN_REQUIRED")
    else:
        session = portal.sessions.get(request.cookies.get(cookie_name(request)), "cookie")
        if (
            session is None
            and not is_api(request)
            and not request.path.startswith("/static/")
            and portal.sessions.admit_anonymous(request.remote)
        ):
            new_cookie, session = portal.sessions.create("cookie", None)
    if session is None or session.account_id is None:
        # No unit logged in: a log-in, a registration or its challenge is a few KB. The app's
        # limit is sized for dossiers; nobody without an account makes the portal read that.
        request = request.clone(client_max_size=ANONYMOUS_BODY_BYTES)
    request[SESSION] = session
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        if request.client_max_size != ANONYMOUS_BODY_BYTES:
            raise  # a logged-in unit's dossier: FILE_TOO_LARGE (error_middleware)
        raise PortalError("REQUEST_TOO_LARGE", {"limit_kb": ANONYMOUS_BODY_BYTES // 1024}) from None
    if new_cookie is not None and request.get(SESSION) is session:
        set_session_cookie(request, response, new_cookie)
    return response


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """HttpOnly, SameSite=Lax, Secure on https."""
    response.set_cookie(
        cookie_name(request),
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=request.app[PORTAL].config.secure_cookies,
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """PortalError -> JSON for the API, an error page for pages; never a stack trace.

    Every response, error pages included, gets the security headers.
    """
    try:
        response = await handler(request)
    except PortalError as exc:
        response = error_response(request, exc)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[PORTAL].config.max_upload_bytes // (1024 * 1024)
        response = error_response(request, PortalError("FILE_TOO_LARGE", {"limit_mb": limit}))
    except web.HTTPException as exc:
        if is_api(request) and exc.status >= 400:
            key = "NOT_FOUND" if exc.status in (404, 405) else "FORM_INVALID"
            err = PortalError(key, {"detail": exc.reason})
            response = web.json_response({"error": err.to_dict()}, status=exc.status)
        elif exc.status == 404:
            response = error_response(request, PortalError("NOT_FOUND"))
        else:
            _security_headers(exc, https=request.app[PORTAL].config.secure_cookies)
            raise
    except Exception as exc:  # the user gets a code; the log gets the trace
        log.exception("unexpected error on %s", request.path)
        response = error_response(request, PortalError("INTERNAL", {"detail": type(exc).__name__}))
    _security_headers(response, https=request.app[PORTAL].config.secure_cookies)
    return response


def _security_headers(response: web.StreamResponse, *, https: bool = False) -> None:
    headers = response.headers
    if https:
        # Served over https: the browser goes straight to https next time (a user typing the
        # bare host name is not sent over plain http first, where TLS could be stripped).
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    # frame-ancestors in the CSP is the rule; X-Frame-Options covers browsers without it.
    headers.setdefault("X-Frame-Options", "DENY")
    # Pages, JSON answers and downloads carry a unit's accounts, dossiers and employees: no
    # cache (a shared PC's browser, a proxy) keeps a copy. Static assets say otherwise.
    headers.setdefault("Cache-Control", "no-store")
    if response.content_type == "text/html":
        headers.setdefault("Content-Security-Policy", CSP)
        # A page of another site that opened the portal (window.open) keeps no handle on it:
        # it cannot navigate the portal's tab to a look-alike log-in page (tabnabbing). The
        # portal opens no windows of its own, and the bridge talks to Kyso over WebSocket.
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")


_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@web.middleware
async def cross_site_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse every state-changing request that a browser says comes from another site.

    The CSRF token guards forms of a logged-in session; this guards the rest: a log-in or
    registration posted by another site's form (login CSRF), and any future endpoint that
    forgets its token. Runs before the session is looked up, so nothing is created either.
    """
    if request.method in _UNSAFE_METHODS:
        reason = cross_site(
            request.headers.get("Origin"),
            request.headers.get("Sec-Fetch-Site"),
            request.app[PORTAL].config.public_origin,
        )
        if reason is not None:
            raise PortalError("CROSS_SITE_REFUSED", {"detail": reason})
    return await handler(request)


def error_response(request: web.Request, exc: PortalError) -> web.StreamResponse:
    """The error in the request's style."""
    if is_api(request):
        return web.json_response({"error": exc.to_dict()}, status=exc.status)
    if exc.key == "LOGIN_REQUIRED" and request.method == "GET":
        # Quoted whole: the original query must not leak into the log-in page's own query.
        target = urllib.parse.quote(safe_next_url(request.path_qs), safe="")
        raise web.HTTPSeeOther(f"/dang-nhap?tiep={target}")
    return render(request, "error.html", {"error": exc.to_dict()}, status=exc.status)


def render(
    request: web.Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """Render a page with the layout's context (account, CSRF token, menu)."""
    portal = request.app[PORTAL]
    session: Session | None = request.get(SESSION)
    ctx = {
        "account": portal.account_for(session),
        "csrf_token": session.csrf_token if session else "",
        "path": request.path,
        "mailbox": portal.config.smtp_sink,
        "error": None,
        "catalogue": CATALOGUE,
        "limits": {
            "max_attachments": portal.config.max_attachments,
            "max_attachment_mb": portal.config.max_attachment_bytes // (1024 * 1024),
        },
    }
    ctx.update(context or {})
    html = request.app[TEMPLATES].get_template(name).render(**ctx)
    return web.Response(text=html, content_type="text/html", status=status)


# The most an anonymous request's body may hold: a registration's signed request with its
# certificate chain, in base64, fits many times over.
ANONYMOUS_BODY_BYTES = 1024 * 1024


def upload_request(request: web.Request) -> web.Request:
    """``request`` allowed a body with the dossier and its PDF attachments (base64 or
    multipart). Called after the log-in is checked: an anonymous request keeps the app's
    smaller limit, so no one without an account can make the portal read 200 MB."""
    config = request.app[PORTAL].config
    budget = config.max_upload_bytes + config.max_attachments * config.max_attachment_bytes
    return request.clone(client_max_size=budget * 4 // 3 + 1024 * 1024)


def check_csrf(request: web.Request, form: Any | None = None) -> Session | None:
    """Refuse a state-changing request whose CSRF token does not match its cookie session.

    Bearer sessions need none (a header is not sent by other sites); anonymous API calls
    carry no credentials to abuse. Page forms always need one.
    """
    session: Session | None = request.get(SESSION)
    if session is not None and session.kind == "bearer":
        return session
    given = request.headers.get("X-CSRF-Token") or (
        form.get("csrf_token") if form is not None else None
    )
    if session is None:
        if is_api(request):
            return None
        raise PortalError("CSRF_INVALID")
    if not same_token(given, session.csrf_token):
        raise PortalError("CSRF_INVALID")
    return session


def require_account(request: web.Request) -> sqlite3.Row:
    """The logged-in active account, or E102."""
    account = request.app[PORTAL].account_for(request.get(SESSION))
    if account is None:
        raise PortalError("LOGIN_REQUIRED")
    return account
