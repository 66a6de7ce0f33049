"""Sign in with a USB token through Kyso: the server side of the bridge example (aiohttp).

Put these four files in one folder: ``server.py``, ``index.html``, ``login.mjs`` and
``kyso-bridge.mjs`` (from ``bridge_js/``). With the Kyso Python package installed
(``pip install <kyso source folder>``, it provides ``agent.signing``) run::

    python server.py --origin https://portal.example.vn \\
        --trust root-ca.pem --trust issuing-ca.pem --crl issuing.crl --crl root.crl \\
        --tls-cert cert.pem --tls-key key.pem --port 8443

``--origin`` is the origin users' browsers show for this site: Kyso signs the challenge for the
page's origin and the token only validates for that same string. Kyso talks only to https
pages, so serve over TLS (here, or behind your reverse proxy with ``--tls-*`` left out).

Routes: ``GET /`` (the page), ``GET /login.mjs``, ``GET /kyso-bridge.mjs``,
``POST /login/challenge`` -> ``{"nonce"}``, ``POST /login`` ``{"token"}`` -> ``{"user"}``,
``GET /me``. Sessions live in memory: this is an example, not a session store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import secrets
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.errors import KysoError
from agent.signing.challenge import new_nonce, validate_auth_token
from agent.signing.trust import TrustStore

HERE = Path(__file__).resolve().parent
# The only files served, by URL path. kyso-bridge.mjs sits beside this file once copied; in the
# Kyso source tree it is one folder up.
FILES = {
    "/": ("index.html", "text/html"),
    "/login.mjs": ("login.mjs", "text/javascript"),
    "/kyso-bridge.mjs": ("kyso-bridge.mjs", "text/javascript"),
}
CHALLENGE_TTL = dt.timedelta(minutes=5)  # as Web eID's validators
SESSION_COOKIE = "sid"
AGENT_PING_PORT = 27442  # the agent's plain-http ping (setting ping_port)

# This example's own errors (the token's are Kyso's KysoError, with the same fields).
ERRORS = {
    "CHALLENGE_UNKNOWN": (
        "Phiên đăng nhập không có mã xác thực đang chờ.",
        "Tải lại trang rồi bấm đăng nhập lần nữa.",
    ),
    "CHALLENGE_EXPIRED": (
        "Mã xác thực đã hết hạn (sau 5 phút).",
        "Bấm đăng nhập lần nữa để nhận mã mới.",
    ),
    "REQUEST_INVALID": (
        "Yêu cầu gửi lên không hợp lệ.",
        "Tải lại trang rồi thử lại.",
    ),
    "CROSS_SITE": (
        "Yêu cầu không đến từ trang của cổng.",
        "Mở trang đăng nhập của cổng rồi thử lại.",
    ),
}


@dataclass
class Session:
    """One browser's state: the pending challenge (single use) and who signed in."""

    nonce: str | None = None
    expires: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    user: dict[str, Any] | None = None


@dataclass
class Config:
    """What the handlers need."""

    origin: str
    trust: TrustStore
    ping_port: int = AGENT_PING_PORT
    sessions: dict[str, Session] = field(default_factory=dict)


CONFIG_KEY = web.AppKey("config", Config)


def error(status: int, code: str) -> web.Response:
    """A JSON error with the same fields as Kyso's (code, message_vi, action_vi)."""
    message, action = ERRORS[code]
    body = {"code": code, "message_vi": message, "action_vi": action}
    return web.json_response({"error": body}, status=status)


def security_headers(config: Config) -> dict[str, str]:
    """The page may reach the agent (wss/https on 127.0.0.1, the plain-http ping) and nothing
    else outside this site; no inline script."""
    connect = f"'self' https://127.0.0.1:* wss://127.0.0.1:* http://127.0.0.1:{config.ping_port}"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; connect-src {connect}; img-src 'self' data:; "
            "style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Security headers everywhere; POSTs only from this site's own pages (CSRF)."""
    config = request.app[CONFIG_KEY]
    if request.method == "POST" and request.headers.get("Origin") != config.origin:
        response: web.StreamResponse = error(403, "CROSS_SITE")
    else:
        response = await handler(request)
    response.headers.update(security_headers(config))
    return response


def session_of(request: web.Request) -> tuple[str, Session]:
    """The request's session, or a new one (its id is set as a cookie by the caller)."""
    sessions = request.app[CONFIG_KEY].sessions
    sid = request.cookies.get(SESSION_COOKIE, "")
    if sid not in sessions:
        sid = secrets.token_urlsafe(32)
        sessions[sid] = Session()
    return sid, sessions[sid]


def set_cookie(response: web.Response, request: web.Request, sid: str) -> None:
    """HttpOnly, SameSite=Strict, Secure on https: the session id never reaches scripts."""
    secure = request.app[CONFIG_KEY].origin.startswith("https://")
    response.set_cookie(
        SESSION_COOKIE, sid, httponly=True, secure=secure, samesite="Strict", path="/"
    )


async def static_file(request: web.Request) -> web.StreamResponse:
    """One of the three files, from this folder (or kyso-bridge.mjs from the folder above)."""
    name, content_type = FILES[request.path]
    path = HERE / name
    if not path.is_file() and name == "kyso-bridge.mjs":
        path = HERE.parent / name
    return web.Response(body=path.read_bytes(), content_type=content_type, charset="utf-8")


async def challenge(request: web.Request) -> web.Response:
    """Issue a fresh nonce for this session: random, single use, 5 minutes."""
    sid, session = session_of(request)
    session.nonce = new_nonce()  # base64url of 32 random bytes; replaces any older one
    session.expires = dt.datetime.now(dt.UTC) + CHALLENGE_TTL
    response = web.json_response({"nonce": session.nonce})
    set_cookie(response, request, sid)
    return response


async def login(request: web.Request) -> web.Response:
    """Validate the Web eID token against this site's origin and this session's nonce."""
    config = request.app[CONFIG_KEY]
    sid, session = session_of(request)
    nonce, expires = session.nonce, session.expires
    session.nonce = None  # single use: burnt before anything is checked, whatever happens
    if nonce is None:
        return error(400, "CHALLENGE_UNKNOWN")
    if dt.datetime.now(dt.UTC) > expires:
        return error(400, "CHALLENGE_EXPIRED")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return error(400, "REQUEST_INVALID")
    token = body.get("token") if isinstance(body, dict) else None
    try:
        # Shape, certificate (chain, validity, revocation, key usage), then the signature over
        # H(origin) ‖ H(nonce). Synchronous and CPU-bound: off the event loop.
        cert = await asyncio.to_thread(
            validate_auth_token,
            token,
            expected_origin=config.origin,
            nonce=nonce,
            trust=config.trust,
        )
    except KysoError as exc:
        return web.json_response({"error": exc.to_dict()}, status=401)
    # Authentication only says who holds the key; which accounts this certificate may open is
    # your decision (for example: its MST must be the unit's registered MST).
    user = {
        "name": cert.subject_display,
        "mst": cert.mst,
        "cccd": cert.cccd,
        "thumbprint": cert.thumbprint,
    }
    # A new session id on sign-in: an id planted before cannot ride on this login.
    del config.sessions[sid]
    sid = secrets.token_urlsafe(32)
    config.sessions[sid] = Session(user=user)
    response = web.json_response({"user": user})
    set_cookie(response, request, sid)
    return response


async def me(request: web.Request) -> web.Response:
    """Who is signed in on this session (null when nobody)."""
    session = request.app[CONFIG_KEY].sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    return web.json_response({"user": session.user if session else None})


def create_app(
    origin: str, trust: TrustStore, *, ping_port: int = AGENT_PING_PORT
) -> web.Application:
    """The example site for ``origin`` (what browsers show), trusting the CAs in ``trust``."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[CONFIG_KEY] = Config(origin=origin.rstrip("/"), trust=trust, ping_port=ping_port)
    for path in FILES:
        app.router.add_get(path, static_file)
    app.router.add_post("/login/challenge", challenge)
    app.router.add_post("/login", login)
    app.router.add_get("/me", me)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the example site until interrupted."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--origin", required=True, help="this site's origin, e.g. https://portal.vn")
    p.add_argument("--trust", action="append", required=True, help="CA certificate (PEM/DER)")
    p.add_argument("--crl", action="append", default=[], help="CRL of a CA in --trust")
    p.add_argument("--tls-cert", help="TLS certificate chain (PEM); omit behind a TLS proxy")
    p.add_argument("--tls-key", help="TLS private key (PEM)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--agent-ping-port", type=int, default=AGENT_PING_PORT, help="for the CSP")
    args = p.parse_args(argv)
    trust = TrustStore.from_files(args.trust, args.crl)
    app = create_app(args.origin, trust, ping_port=args.agent_ping_port)
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C (or SIGINT) stops it cleanly
        asyncio.run(serve(app, args.host, args.port, context, args.origin))
    return 0


async def serve(
    app: web.Application, host: str, port: int, context: ssl.SSLContext | None, origin: str
) -> None:
    """Listen, print one JSON line once listening (for scripts and tests), serve forever."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=context).start()
        print(json.dumps({"origin": origin, "port": port}), flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    sys.exit(main())
