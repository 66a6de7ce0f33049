"""The plain-http ping: ``GET http://127.0.0.1:27442/v1/ping`` -> ``204 No Content``.

A page cannot see why ``wss://127.0.0.1`` failed; when the ping answers, the bridge knows Kyso
runs and the browser does not trust its certificate. The ping is its own tiny application, with
no access to tokens, approvals or the prompter, so that it cannot grow into a second API:
``/v1/ping`` has no body and no CORS headers (a page reads it in ``no-cors`` mode and learns
only that something answered). ``Host`` is checked as on HTTPS (DNS rebinding); ``Origin`` is
not, and nobody is asked anything: all it reveals is that Kyso runs on this machine.

``GET /v1/port`` tells a page *which* port its user's agent listens on (terminal servers, where
users' agents spread over a ``port_range``): ``200 {"port": N}``, readable over CORS only by an
origin in the settings' ``allowed_origins`` (policy or configuration; never ``*``, never a
user's runtime approvals, which the ping cannot see). Whose port: the port of the OS user at the
other end of the connection, never another user's. With a ``port_range`` the ping's port is
shared by the machine: whichever agent holds it accepts every user's connection (that user must
have a listener in the range, found in the kernel's socket table by uid: Linux only, Windows
does not let one user read another's process owner) and answers with that user's port. The answer is only a hint: the page then opens ``wss://`` there, and TLS with the
user's own trusted certificate decides whether it reached the user's agent.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
from collections.abc import Callable

from aiohttp import web

from agent.server.origin import host_allowed

log = logging.getLogger(__name__)

PING_PATH = "/v1/ping"
PORT_PATH = "/v1/port"
_NO_STORE = {"Cache-Control": "no-store"}

Listen = Callable[[str, int], socket.socket]
# (peername, sockname) of a connection -> the WSS port of the OS user at its other end, or None.
PortOf = Callable[[object, object], int | None]


def _cors(origin: str) -> dict[str, str]:
    return {**_NO_STORE, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _port_answer(request: web.Request, origins: frozenset[str], port_of: PortOf) -> web.Response:
    origin = request.headers.get("Origin", "")
    if origin not in origins:
        # No CORS headers: the page reads nothing (its console shows a CORS refusal).
        return web.Response(status=403, headers={**_NO_STORE, "Vary": "Origin"})
    if request.method == "OPTIONS":  # a CORS / Private Network Access preflight
        headers = {**_cors(origin), "Access-Control-Allow-Methods": "GET"}
        if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        return web.Response(status=204, headers=headers)
    if request.method != "GET":
        return web.Response(status=405, headers={**_NO_STORE, "Allow": "GET, OPTIONS"})
    transport = request.transport
    found = (
        port_of(transport.get_extra_info("peername"), transport.get_extra_info("sockname"))
        if transport is not None
        else None
    )
    if found is None:
        return web.Response(status=404, headers=_cors(origin))
    return web.Response(
        status=200,
        body=json.dumps({"port": found}).encode(),
        content_type="application/json",
        headers=_cors(origin),
    )


def create_ping_app(
    port: int,
    *,
    origins: tuple[str, ...] = (),
    port_of: PortOf = lambda _peer, _ours: None,
) -> web.Application:
    """The ping application for a listener on ``port`` (the port the Host header must name).
    ``origins`` may read ``/v1/port``; ``port_of`` finds the asking user's WSS port."""
    readers = frozenset(origins)

    async def answer(request: web.Request) -> web.Response:
        if not host_allowed(request.headers.get("Host"), port):
            return web.Response(status=421, headers=_NO_STORE)
        if request.path == PORT_PATH:
            return _port_answer(request, readers, port_of)
        if request.path != PING_PATH:
            return web.Response(status=404, headers=_NO_STORE)
        if request.method != "GET":
            return web.Response(status=405, headers={**_NO_STORE, "Allow": "GET"})
        return web.Response(status=204, headers=_NO_STORE)

    # No middlewares, no state, tiny bodies: a GET with a body is refused by the size limit.
    app = web.Application(client_max_size=1024)
    app.router.add_route("*", "/{tail:.*}", answer)
    app.on_response_prepare.append(_server_header)
    return app


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name no software and version (aiohttp would say Python/aiohttp), as on HTTPS."""
    response.headers["Server"] = "Kyso"


def bind_ping(
    port: int, hosts: tuple[str, ...], listen: Listen, *, quiet: bool = False
) -> list[socket.socket]:
    """Listen on ``port`` on each loopback host; a taken port (or a missing IPv6) is logged and
    skipped, never fatal: the ping is only a diagnosis aid. No fallback ports (pages look at
    one fixed port). ``quiet``: a taken port is only a debug line (a terminal server's agents
    retry it). Returns the listening sockets (empty when the ping is unavailable)."""
    sockets: list[socket.socket] = []
    for host in hosts:
        try:
            sockets.append(listen(host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                log.info("no %s here for the ping", host)
                continue
            if quiet:
                log.debug("ping port %d still taken on %s", port, host)
                break
            log.warning(
                "plain-http ping port %d is not available on %s (%s): pages cannot tell 'Kyso is "
                "not running' from 'certificate not trusted'. / Cổng %d đang bận.",
                port,
                host,
                exc.strerror or exc,
                port,
            )
            if host == hosts[0]:
                break  # pages ping 127.0.0.1: without it the ping is useless
    return sockets


__all__ = ["PING_PATH", "PORT_PATH", "bind_ping", "create_ping_app"]
