"""The aiohttp application: routes, the security middleware, and the hot-plug fan-out.

Security lives in one middleware, before any handler: the peer must be our OS user (Linux;
already checked when the connection was accepted, see ``listener.py``, and again here so the
app is safe behind any runner), ``Host`` must be a loopback name with our port, and ``Origin``
must be allowed — an unknown https origin is asked about (pairing) before anything else
happens. A WebSocket from an origin that is not allowed is accepted and closed at once with
4403 "ORIGIN_NOT_ALLOWED", so the page can tell why; plain HTTP gets 403 without CORS headers.

The Origin is not only checked at the handshake: when a site is revoked (``kyso-agent sites
revoke``, which rewrites ``approvals.json``, or the tray, which calls the approval store), every
open connection from an origin no longer allowed is closed with the same 4403 (see
:func:`_revocations`), and the dispatcher refuses its next message at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, web

from agent.config.settings import Settings
from agent.errors import KysoError
from agent.peercred import same_user
from agent.server.commands import command_table
from agent.server.commands.info import info
from agent.server.connection import AgentWebSocket, Connection, Dispatcher
from agent.server.context import AgentCore, Services
from agent.server.listener import SERVER_HEADER, Throttled, effective_cap, file_limit
from agent.server.origin import OriginVerdict, classify_origin, cors_headers, host_allowed
from agent.server.pairing import Pairing, PairingBusy, waiting_budget

log = logging.getLogger(__name__)

CORE_KEY = web.AppKey("core", AgentCore)
CONNECTIONS_KEY = web.AppKey("connections", set[Connection])
DISPATCHER_KEY = web.AppKey("dispatcher", Dispatcher)
ORIGIN_KEY = web.RequestKey("origin", str)  # the allowed, normalised origin

WS_PATH = "/v1/ws"
CLOSE_ORIGIN_NOT_ALLOWED = 4403
CLOSE_TOO_MANY_CONNECTIONS = 4429
MIN_PER_ORIGIN = 4  # open WebSockets one origin may always hold (see per_origin_cap)
# How often open connections are compared with the allowed origins when nothing in this process
# said so (``kyso-agent sites revoke`` runs in another process and only rewrites the file).
REVOCATION_CHECK_SECONDS = 1.0
# How often a handshake waiting for a pairing answer looks whether its client is still there.
GONE_CHECK_SECONDS = 0.5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


PAIRING_KEY = web.AppKey("pairing", Pairing)
# Waits for a pairing answer, with the handshakes that wait (see _while_connected; a request is
# not hashable, a task is).
PAIRING_HANDSHAKES_KEY = web.AppKey("pairing_handshakes", dict[asyncio.Task[bool], web.Request])
REVOCATION_WAKE_KEY = web.AppKey("revocation_wake", asyncio.Event)
_busy_log = Throttled()
_origin_cap_log = Throttled()
# A page the user denied (or any page, under a policy without pairing) may knock in a loop:
# one line, then a count per minute (the Windows launcher's log is never rotated).
_refused_log = Throttled()


def _error_response(status: int, error: KysoError) -> web.Response:
    return web.json_response({"error": error.to_dict()}, status=status, headers={"Vary": "Origin"})


async def _refuse_ws(request: web.Request, reason: str, code: int) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    try:
        await ws.prepare(request)
    except ConnectionError:  # the page left before its answer (e.g. while pairing): nobody
        return web.Response(status=499)  # to tell, and no traceback in the log for it
    await ws.close(code=code, message=reason.encode())
    return ws


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Peer user, Host, then Origin (with pairing) — before any handler runs."""
    core = request.app[CORE_KEY]
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport else None
    ours = transport.get_extra_info("sockname") if transport else None
    if not same_user(peer, ours):
        log.warning("refused a connection from another OS user (%s)", peer)
        return _error_response(403, KysoError("PEER_USER_MISMATCH"))
    host = request.headers.get("Host")
    if not host_allowed(host, core.port):
        return _error_response(421, KysoError("HOST_NOT_ALLOWED", {"host": (host or "")[:100]}))

    is_ws = request.path == WS_PATH
    header = request.headers.get("Origin")
    settings = core.settings
    verdict, origin = classify_origin(
        header,
        allowed=core.allowed_origins(),
        denied=core.denied_origins,
        allow_http_localhost=settings.allow_http_localhost,
        allow_user_origins=settings.allow_user_origins,
    )
    if is_ws:
        # Only a real WebSocket handshake may pair: a fetch() to this path is a mere probe.
        upgrade = (
            request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"
        )
        if verdict is OriginVerdict.ASK and origin is not None and upgrade:
            try:
                answer = await _while_connected(request, request.app[PAIRING_KEY].ask(origin))
            except PairingBusy as busy:
                # No place left to wait for a question (this origin's, its site's, or all), or
                # no question this minute: busy, not refused; try later.
                _busy_log.warning("%s; refused %r", busy.reason, origin)
                return await _refuse_ws(request, "TOO_MANY_CONNECTIONS", CLOSE_TOO_MANY_CONNECTIONS)
            if answer is None:  # the page went away while it waited: nobody to answer
                return web.Response(status=499)
            verdict = OriginVerdict.ALLOWED if answer else OriginVerdict.REFUSED
        if verdict is not OriginVerdict.ALLOWED or origin is None:
            if not upgrade:
                return _error_response(
                    403, KysoError("ORIGIN_NOT_ALLOWED", {"origin": (header or "")[:200]})
                )
            _refused_log.warning("refused a WebSocket from origin %r", header)
            return await _refuse_ws(request, "ORIGIN_NOT_ALLOWED", CLOSE_ORIGIN_NOT_ALLOWED)
        request[ORIGIN_KEY] = origin
        return await handler(request)

    # Plain HTTPS: no pairing (a probe must not pop up a dialog); CORS only when allowed.
    if header is None and request.method == "GET" and not _from_a_page(request):
        return await handler(request)  # a local tool or a direct visit: no CORS at all
    if verdict is not OriginVerdict.ALLOWED or origin is None:
        return _error_response(
            403, KysoError("ORIGIN_NOT_ALLOWED", {"origin": (header or "")[:200]})
        )
    preflight = request.method == "OPTIONS"
    if preflight and request.match_info.http_exception is not None:
        return web.Response(status=404)  # a preflight grants only what exists: /v1/info
    request[ORIGIN_KEY] = origin
    response = web.Response(status=204) if preflight else await handler(request)
    response.headers.update(cors_headers(origin, request.headers, preflight=preflight))
    return response


async def _while_connected(request: web.Request, asking: Awaitable[bool]) -> bool | None:
    """The pairing answer, or None once the client has gone away (``asking`` is then
    cancelled: its waiting place is freed, its question withdrawn). aiohttp does not cancel a
    handler whose client left (``handler_cancellation`` is off in ``runner.py``; on, it would
    cancel every handler, open WebSockets' too, wherever they wait), so the wait looks itself."""
    waiting = request.app[PAIRING_HANDSHAKES_KEY]
    task = asyncio.ensure_future(asking)
    waiting[task] = request
    try:
        while not task.done():  # also once cancelled below: its place is given back first
            await asyncio.wait({task}, timeout=GONE_CHECK_SECONDS)
            if not task.done():
                # A page closes its sockets together: every waiter whose page is gone is
                # withdrawn now, before the next question in line could be shown for a moment.
                for asked, other in waiting.items():
                    if _gone(other):
                        asked.cancel()
    finally:
        del waiting[task]
        task.cancel()  # this handler was cancelled (the agent is stopping): the wait ends too
    return None if task.cancelled() else task.result()


def _gone(request: web.Request) -> bool:
    """True once the client of ``request`` has closed its connection (or it is closing)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _from_a_page(request: web.Request) -> bool:
    """Did a web page send this request? A browser omits ``Origin`` on a no-cors GET (and on
    a link or form's navigation) but always says where the request comes from in
    ``Sec-Fetch-Site``: only "none" (a typed URL, a bookmark) is the user's own visit. Without
    it the caller is a local tool (curl, the CLI), which a page cannot be."""
    return request.headers.get("Sec-Fetch-Site", "none").strip().lower() != "none"


async def info_handler(request: web.Request) -> web.Response:
    """GET /v1/info: sign.hash is listed only for an origin configured for it."""
    return web.json_response(info(request.app[CORE_KEY], request.get(ORIGIN_KEY)))


def per_origin_cap(max_connections: int) -> int:
    """Open WebSockets one origin may hold: a quarter of all, at least
    :data:`MIN_PER_ORIGIN` (a portal opens a handful of tabs), never more than all."""
    return min(max_connections, max(MIN_PER_ORIGIN, max_connections // 4))


async def ws_handler(request: web.Request) -> web.StreamResponse:
    """GET /v1/ws: the JSON-RPC WebSocket (the origin was checked by the middleware)."""
    core = request.app[CORE_KEY]
    connections = request.app[CONNECTIONS_KEY]
    cap = core.settings.max_connections
    if len(connections) >= cap:
        return await _refuse_ws(request, "TOO_MANY_CONNECTIONS", CLOSE_TOO_MANY_CONNECTIONS)
    origin = request[ORIGIN_KEY]
    if sum(1 for c in connections if c.origin == origin) >= per_origin_cap(cap):
        # One site (a buggy page, or a hostile one) must not take every slot from the others.
        _origin_cap_log.warning(
            "origin %s holds its share of the WebSocket slots; refused one", origin
        )
        return await _refuse_ws(request, "TOO_MANY_CONNECTIONS", CLOSE_TOO_MANY_CONNECTIONS)
    # The heartbeat finds a page whose machine or browser vanished without closing: no pong
    # within half the interval closes the socket (aiohttp's rule).
    ws = AgentWebSocket(
        max_msg_size=core.settings.max_message_bytes,
        heartbeat=float(core.settings.ws_heartbeat_seconds),
        compress=False,
    )
    await ws.prepare(request)
    conn = Connection(ws, request[ORIGIN_KEY])
    connections.add(conn)
    request.app[REVOCATION_WAKE_KEY].set()  # the revocation watch polls while pages are open
    # The agent idles without its PKCS#11 modules; a page that connects may soon list
    # certificates, or wait for tokens.changed: load them now, in the background.
    core.services.tokens.load_soon()
    log.info("connection %d from %s", conn.id, conn.origin)
    try:
        await request.app[DISPATCHER_KEY].serve(conn)
    finally:
        connections.discard(conn)
    return ws


async def _token_events(app: web.Application) -> AsyncIterator[None]:
    """Forward hot-plug events to every connected page as ``tokens.changed``."""
    core = app[CORE_KEY]
    tokens = core.services.tokens
    queue = tokens.subscribe()

    sending: set[asyncio.Task[None]] = set()

    async def pump() -> None:
        while True:
            event = await queue.get()
            core.certs.invalidate()
            params = {
                "event": event.kind,
                "token": {"label": event.token.label, "serial": event.token.serial},
            }
            connections: set[Connection] = app[CONNECTIONS_KEY]
            # Each page on its own: one that stops reading (its send waits for room) must not
            # hold the event back from the others (red team 33: 52 s). A page's sends keep
            # their order: its lock is first come, first served.
            for conn in list(connections):
                send = asyncio.create_task(_notify_within(conn, "tokens.changed", params))
                sending.add(send)
                send.add_done_callback(sending.discard)

    task = asyncio.create_task(pump(), name="kyso-token-events")
    yield
    task.cancel()
    for send in list(sending):
        send.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.gather(*sending, return_exceptions=True)
    tokens.unsubscribe(queue)
    await core.keys.close()
    await core.certs.close()  # the remote providers' sessions


# A page that has not taken a notification in this long does not read: it misses it (the
# heartbeat closes such a page), and its waiting sends do not pile up.
NOTIFY_SECONDS = 10.0


async def _notify_within(conn: Connection, method: str, params: dict[str, Any]) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(conn.notify(method, params), NOTIFY_SECONDS)


async def close_revoked(app: web.Application) -> int:
    """Close every open connection whose origin is no longer allowed (revoked from the tray or
    the CLI, a "once" answer withdrawn) with 4403, as at the handshake; its requests stop (the
    dispatcher cancels them when the socket closes). Returns how many were closed."""
    core = app[CORE_KEY]
    connections: set[Connection] = app[CONNECTIONS_KEY]
    if not connections:
        return 0
    allowed = core.allowed_origins()
    revoked = [conn for conn in connections if conn.origin not in allowed]
    dispatcher = app[DISPATCHER_KEY]
    await asyncio.gather(*(dispatcher.revoke(conn) for conn in revoked), return_exceptions=True)
    return len(revoked)


async def _revocations(app: web.Application) -> AsyncIterator[None]:
    """Closes connections of revoked origins: at once when this process changed the approvals
    (the tray), otherwise within :data:`REVOCATION_CHECK_SECONDS` (the CLI, another process,
    rewrites ``approvals.json``; the store notices by its size and time)."""
    core = app[CORE_KEY]
    loop = asyncio.get_running_loop()
    changed = app[REVOCATION_WAKE_KEY]
    connections: set[Connection] = app[CONNECTIONS_KEY]

    def wake() -> None:
        loop.call_soon_threadsafe(changed.set)

    async def watch() -> None:
        while True:
            # Idle (no page connected) the agent does not wake up: a new connection sets
            # ``changed`` (ws_handler), and only open connections are polled.
            period = REVOCATION_CHECK_SECONDS if connections else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period):
                    await changed.wait()
            changed.clear()
            try:
                await close_revoked(app)
            except Exception:  # never let a bad file stop the watch
                log.exception("checking open connections against the allowed origins failed")

    approvals = core.services.approvals
    approvals.subscribe(wake)
    task = asyncio.create_task(watch(), name="kyso-revocations")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    approvals.unsubscribe(wake)


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name no software and version in ``Server`` (aiohttp would say Python/aiohttp)."""
    response.headers["Server"] = SERVER_HEADER


# How long a page has to answer the agent's close frame when the agent stops. Pages answer in
# milliseconds; a session logging off gives a program a few seconds in all.
CLOSE_GRACE_SECONDS = 2.0


async def _close_one(conn: Connection) -> None:
    # On timeout aiohttp drops the socket (1006 for that page); the others still get 1001.
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(
            conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"AGENT_STOPPING"),
            CLOSE_GRACE_SECONDS,
        )


async def _close_connections(app: web.Application) -> None:
    app[CORE_KEY].stopping = True
    connections: set[Connection] = app[CONNECTIONS_KEY]
    # Every page is told at once: one page that never answers (or never reads) must not hold
    # back the others' 1001 by aiohttp's close timeout each, nor the agent's exit.
    await asyncio.gather(*(_close_one(conn) for conn in list(connections)))


def create_app(settings: Settings, services: Services) -> web.Application:
    """The agent's web application (bind it with :mod:`agent.server.runner`)."""
    app = web.Application(middlewares=[security_middleware], client_max_size=64 * 1024)
    core = AgentCore(settings, services)
    app[CORE_KEY] = core
    app[CONNECTIONS_KEY] = set()
    app[DISPATCHER_KEY] = Dispatcher(core, command_table())
    # Handshakes waiting for a pairing answer hold connections under the listener's cap: they
    # may take a small share of it only (see agent.server.pairing).
    cap = effective_cap(settings.max_tcp_connections, file_limit())
    app[PAIRING_KEY] = Pairing(core, max_waiting=waiting_budget(cap))
    app[PAIRING_HANDSHAKES_KEY] = {}
    app[REVOCATION_WAKE_KEY] = asyncio.Event()
    app.router.add_get("/v1/info", info_handler)
    app.router.add_route("OPTIONS", "/v1/info", info_handler)
    app.router.add_get(WS_PATH, ws_handler)
    app.cleanup_ctx.append(_token_events)
    app.cleanup_ctx.append(_revocations)
    app.on_response_prepare.append(_server_header)
    app.on_shutdown.append(_close_connections)
    return app


__all__ = ["CORE_KEY", "Connection", "create_app"]
