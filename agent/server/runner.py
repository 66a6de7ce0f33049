"""Start and stop the agent: choose the port, bind loopback only, TLS, and clean shutdown.

``serve(settings, services=...)`` returns a :class:`RunningAgent` so that whoever owns the
process (the CLI's ``kyso-agent run`` or the tray) keeps its own event loop and decides when to
stop. The caller builds the services (token service, prompter): the server knows the UI only
through :class:`~agent.ui.api.Prompter`. Every listening socket is served by
:class:`~agent.server.listener.GuardedSite`: a connection cap, the same-OS-user check before
TLS, and deadlines for the handshake and the request headers.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agent.config.settings import Settings
from agent.errors import KysoError
from agent.peercred import peer_port_in_range, same_user
from agent.server.app import CORE_KEY, create_app
from agent.server.approvals import ApprovalStore
from agent.server.audit import AuditLog
from agent.server.context import Services
from agent.server.listener import GuardedSite, PeerCheck, effective_cap, file_limit
from agent.server.ping import bind_ping, create_ping_app
from agent.server.ports import candidate_ports
from agent.tokens.service import TokenService
from agent.ui.api import Prompter

log = logging.getLogger(__name__)

IPV4 = "127.0.0.1"
IPV6 = "::1"
# Terminal servers: how often an agent without the machine's ping port tries to take it (its
# holder may be another user's agent, gone when that user logs off).
PING_RETRY_SECONDS = 15.0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Name the protocol: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto is
    # IPPROTO_TCP, and accepted connections inherit it. With proto 0 they kept Nagle on, so a
    # reply written in pieces could wait for the peer's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if sys.platform == "win32":
            # On Windows SO_REUSEADDR would let another program bind our port too (and steal
            # connections); exclusive use is the safe equivalent there.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        else:
            # SO_REUSEADDR lets a restarted agent take its port back from TIME_WAIT; on Unix it
            # does not let two listeners share a port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


# (peername, sockname, range) -> the port the connection's OS user listens on in the range.
PortLookup = Callable[[Any, Any, range], int | None]


def bind_loopback(ports: tuple[int, ...]) -> tuple[int, list[socket.socket]]:
    """Listen on 127.0.0.1 and ::1 on the first port free on both; ::1 is skipped when the
    machine has no IPv6. Returns the port and the listening sockets."""
    for wanted in ports:
        try:
            v4 = _listen(IPV4, wanted)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                log.info("port %d is taken on %s", wanted, IPV4)
                continue
            raise
        port = v4.getsockname()[1]
        try:
            return port, [v4, _listen(IPV6, port)]
        except OSError as exc:
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                log.info("no IPv6 loopback here; listening on %s only", IPV4)
                return port, [v4]
            v4.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                log.info("port %d is taken on %s", port, IPV6)
                continue
            raise
    raise KysoError("PORT_UNAVAILABLE", {"ports": ", ".join(str(p) for p in ports)})


@dataclass
class RunningAgent:
    """A started agent. ``await stop()`` closes connections, then the token service."""

    port: int
    runner: web.AppRunner
    services: Services
    owns_tokens: bool
    hosts: tuple[str, ...]
    ready_seconds: float
    ping_port: int | None = None  # the plain-http ping (None: off or its port was taken)
    ping_runner: web.AppRunner | None = field(default=None, repr=False)
    # Every listener (HTTPS, then ping): open and refused connection counts, for doctor and tests.
    sites: tuple[GuardedSite, ...] = field(default=(), repr=False)
    ping_takeover: asyncio.Task[None] | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """The WebSocket URL pages connect to."""
        return f"wss://127.0.0.1:{self.port}/v1/ws"

    @property
    def info_url(self) -> str:
        """The HTTPS info endpoint."""
        return f"https://127.0.0.1:{self.port}/v1/info"

    async def stop(self) -> None:
        """Stop listening, close every WebSocket (1001), stop the token service."""
        if self._stopped:
            return
        self._stopped = True
        if self.ping_takeover is not None:
            self.ping_takeover.cancel()
            await asyncio.gather(self.ping_takeover, return_exceptions=True)
        if self.ping_runner is not None:
            await self.ping_runner.cleanup()
        await self.runner.cleanup()
        self.services.audit.close()
        if self.owns_tokens:
            await self.services.tokens.close()
        log.info("Kyso agent stopped (port %d)", self.port)


def _tls_context() -> ssl.SSLContext:
    from agent.localtls import default_directory, ensure_server_certificate, ssl_context

    cert = ensure_server_certificate(default_directory())
    if cert.needs_retrust:
        log.warning(
            "The local TLS certificate was renewed with a new CA: run 'kyso-agent trust install' "
            "so browsers trust it again. / Chứng thư TLS cục bộ đã được gia hạn: chạy "
            "'kyso-agent trust install'."
        )
    return ssl_context(cert)


def make_services(tokens: TokenService, prompter: Prompter) -> Services:
    """The server's services around the token service and prompter its caller chose (the
    composition root, ``agent.cli.compose``): the server never picks a concrete prompter."""
    return Services(tokens, prompter, ApprovalStore(), AuditLog())


def _ping_checks(
    settings: Settings, wss_port: int, peer_check: PeerCheck, lookup: PortLookup
) -> tuple[PeerCheck, Callable[[Any, Any], int | None]]:
    """Who the ping accepts, and how it finds the asking user's port. Single-user (no range):
    our own user only, answered with our port. With a ``port_range`` the ping's port is the
    machine's: any user with a listener in the range is accepted and told that port."""
    ports = settings.port_range_ports

    def port_of(peer: Any, ours: Any) -> int | None:
        if peer_check(peer, ours):
            return wss_port
        return lookup(peer, ours, ports) if ports is not None else None

    if ports is None:
        return peer_check, port_of
    return (lambda peer, ours: port_of(peer, ours) is not None), port_of


async def _ping_sites(
    runner: web.AppRunner,
    sockets: list[socket.socket],
    settings: Settings,
    cap: int,
    peer_check: PeerCheck,
) -> list[GuardedSite]:
    sites = []
    for sock in sockets:
        site = GuardedSite(
            runner,
            sock,
            cap=cap,
            header_timeout=settings.header_timeout_seconds,
            peer_check=peer_check,
        )
        await site.start()
        sites.append(site)
    log.info("plain-http ping at http://127.0.0.1:%d/v1/ping", settings.ping_port)
    return sites


async def _start_ping(
    settings: Settings, cap: int, peer_check: PeerCheck, port_of: Callable[[Any, Any], int | None]
) -> tuple[int | None, web.AppRunner | None, list[GuardedSite]]:
    """Serve the plain-http ping on its port (0: off); never fails start-up. With a
    ``port_range`` the runner is set up even when the port is taken (see :func:`_take_over`)."""
    port = settings.ping_port
    if port == 0:
        return None, None, []
    # On a terminal server all agents but one find the port taken: expected, not a warning.
    shared = settings.port_range_ports is not None
    sockets = bind_ping(port, (IPV4, IPV6), _listen, quiet=shared)
    if not sockets and not shared:
        return None, None, []
    runner = web.AppRunner(
        create_ping_app(port, origins=settings.allowed_origins, port_of=port_of),
        handle_signals=False,
        access_log=None,
        shutdown_timeout=1.0,
        keepalive_timeout=settings.idle_timeout_seconds,
    )
    await runner.setup()
    if not sockets:
        return None, runner, []
    return port, runner, await _ping_sites(runner, sockets, settings, cap, peer_check)


async def _take_over(
    agent: RunningAgent, settings: Settings, cap: int, peer_check: PeerCheck
) -> None:
    """Terminal servers: the machine's ping port is held by another user's agent (or anything
    else). Try it again now and then; once that user logs off, this agent answers every user's
    ping, so pages keep finding their agents."""
    assert agent.ping_runner is not None
    while True:
        await asyncio.sleep(PING_RETRY_SECONDS)
        sockets = bind_ping(settings.ping_port, (IPV4, IPV6), _listen, quiet=True)
        if sockets:
            sites = await _ping_sites(agent.ping_runner, sockets, settings, cap, peer_check)
            agent.sites = (*agent.sites, *sites)
            agent.ping_port = settings.ping_port
            agent.runner.app[CORE_KEY].ping_port = settings.ping_port
            return


async def serve(
    settings: Settings,
    *,
    services: Services,
    owns_tokens: bool = False,
    tls: ssl.SSLContext | None = None,
    peer_check: PeerCheck = same_user,
    port_lookup: PortLookup = peer_port_in_range,
) -> RunningAgent:
    """Start the agent and return once it accepts connections. ``owns_tokens``: the agent closes
    the (started) token service when it stops, also when start-up fails. ``peer_check(peer,
    ours)`` says whether an accepted connection comes from our OS user; ``port_lookup(peer,
    ours, range)`` finds another user's port in ``port_range`` for the ping (seams for tests)."""
    started = time.perf_counter()
    try:
        context = tls or _tls_context()
        port, sockets = bind_loopback(candidate_ports(settings))
    except BaseException:
        if owns_tokens:
            await services.tokens.close()
        raise
    app = create_app(settings, services)
    app[CORE_KEY].port = port
    # keepalive_timeout: aiohttp's default (3 630 s) let half-sent requests pile up for an hour.
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=5.0,
        keepalive_timeout=settings.idle_timeout_seconds,
    )
    await runner.setup()
    cap = effective_cap(settings.max_tcp_connections, file_limit())
    sites = []
    for sock in sockets:
        site = GuardedSite(
            runner,
            sock,
            cap=cap,
            header_timeout=settings.header_timeout_seconds,
            ssl_context=context,
            peer_check=peer_check,
        )
        await site.start()
        sites.append(site)
    hosts = tuple(s.getsockname()[0] for s in sockets)
    # The ping needs few connections: a page pings once when the WebSocket fails.
    ping_check, port_of = _ping_checks(settings, port, peer_check, port_lookup)
    ping_cap = max(4, cap // 8)
    ping_port, ping_runner, ping_sites = await _start_ping(settings, ping_cap, ping_check, port_of)
    app[CORE_KEY].ping_port = ping_port
    agent = RunningAgent(
        port,
        runner,
        services,
        owns_tokens,
        hosts,
        time.perf_counter() - started,
        ping_port=ping_port,
        ping_runner=ping_runner,
        sites=(*sites, *ping_sites),
    )
    if ping_runner is not None and ping_port is None:
        log.info(
            "ping port %d is taken: trying again every %.0f s",
            settings.ping_port,
            PING_RETRY_SECONDS,
        )
        agent.ping_takeover = asyncio.create_task(
            _take_over(agent, settings, ping_cap, ping_check), name="kyso-ping-takeover"
        )
    if settings.scripted_prompter:
        log.warning(
            "!!! SCRIPTED PROMPTER ACTIVE (%s): nobody is asked before signing. Tests and "
            "unattended machines only. / ĐANG DÙNG TRẢ LỜI TỰ ĐỘNG: không hỏi người dùng. !!!",
            settings.prompter,
        )
    log.warning("Kyso agent ready at %s (listening on %s)", agent.url, ", ".join(hosts))
    return agent
