"""The plain-http ping: ``GET http://127.0.0.1:27442/v1/ping`` -> ``204 No Content``.

A page cannot see why ``wss://127.0.0.1`` failed; when the ping answers, the bridge knows Kyso
runs and the browser does not trust its certificate. The ping is its own tiny application, with
no access to tokens, approvals or the prompter, so that it cannot grow into a second API: it
answers one path with no body and no CORS headers (a page reads it in ``no-cors`` mode and learns
only that something answered). ``Host`` is checked as on HTTPS (DNS rebinding); ``Origin`` is
not, and nobody is asked anything: all it reveals is that Kyso runs on this machine.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable

from aiohttp import web

from agent.server.origin import host_allowed

log = logging.getLogger(__name__)

PING_PATH = "/v1/ping"
_NO_STORE = {"Cache-Control": "no-store"}

Listen = Callable[[str, int], socket.socket]


def create_ping_app(port: int) -> web.Application:
    """The ping application for a listener on ``port`` (the port the Host header must name)."""

    async def answer(request: web.Request) -> web.Response:
        if not host_allowed(request.headers.get("Host"), port):
            return web.Response(status=421, headers=_NO_STORE)
        if request.path != PING_PATH:
            return web.Response(status=404, headers=_NO_STORE)
        if request.method != "GET":
            return web.Response(status=405, headers={**_NO_STORE, "Allow": "GET"})
        return web.Response(status=204, headers=_NO_STORE)

    # No middlewares, no state, tiny bodies: a GET with a body is refused by the size limit.
    app = web.Application(client_max_size=1024)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def bind_ping(port: int, hosts: tuple[str, ...], listen: Listen) -> list[socket.socket]:
    """Listen on ``port`` on each loopback host; a taken port (or a missing IPv6) is logged and
    skipped, never fatal: the ping is only a diagnosis aid. No fallback ports (pages look at
    one fixed port). Returns the listening sockets (empty when the ping is unavailable)."""
    sockets: list[socket.socket] = []
    for host in hosts:
        try:
            sockets.append(listen(host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                log.info("no %s here for the ping", host)
                continue
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


__all__ = ["PING_PATH", "bind_ping", "create_ping_app"]
