"""Accepting connections ourselves, so the cheap refusals happen before TLS and before aiohttp.

aiohttp's own sites hand every accepted socket to TLS and HTTP at once, with a keep-alive of
3 630 s: about 1 100 silent or half-sent connections filled the 1 024-file limit, and then the
agent answered nobody and the token scan failed. Here, per listening socket:

1. **Cap.** At most ``cap`` connections are open; one more is closed at once (one WARNING when
   the cap is hit, then at most one a minute saying how many were refused).
2. **Same OS user** (Linux, ``/proc/net/tcp``): checked on the accepted socket, before a TLS
   byte is read; another user's connection is closed.
3. **Deadlines.** The TLS handshake, then the first request's headers, must each arrive within
   ``header_timeout`` seconds; the connection is dropped otherwise (slowloris). After that
   aiohttp's keep-alive (``idle_timeout_seconds``) and the WebSocket heartbeat take over.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from agent.peercred import same_user

log = logging.getLogger(__name__)

PeerCheck = Callable[[Any, Any], bool]
SERVER_HEADER = "Kyso"  # instead of aiohttp's "Python/3.x aiohttp/3.x"
# Headers longer than this without their blank line are aiohttp's to refuse (it answers 400).
_SCAN_LIMIT = 64 * 1024
# asyncio's own accept loop waits this long when accept() fails (out of file descriptors).
_ACCEPT_RETRY_SECONDS = 1.0
_OUT_OF_FILES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def file_limit() -> int:
    """The soft open-file limit (1 024 on most Linux desktops; none on Windows)."""
    try:
        import resource
    except ImportError:  # Windows has no such limit: the configured cap stands
        return 1 << 20
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def effective_cap(configured: int, file_limit: int) -> int:
    """The cap actually used: the setting, but never more than an eighth of the open-file
    limit (the two HTTPS listeners then hold at most a quarter of it, the ping's a 32nd), and
    never below 4."""
    return max(4, min(configured, file_limit // 8))


class Throttled:
    """One WARNING at once, then at most one per ``interval`` seconds, counting the rest."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._next = 0.0
        self._skipped = 0

    def warning(self, message: str, *args: Any) -> None:
        """Log now, or count the line when one was logged less than ``interval`` ago."""
        now = time.monotonic()
        if now < self._next:
            self._skipped += 1
            return
        if self._skipped:
            message += " (%d more since the last such message)"
            args = (*args, self._skipped)
        log.warning(message, *args)
        self._skipped = 0
        self._next = now + self.interval


_malformed_log = Throttled()


class _KysoRequestHandler(RequestHandler):
    """aiohttp's protocol, but a request its parser refuses (an over-long URL or header, two
    Host headers...) is answered before any Kyso check and without the response signal that
    names the server: such an answer says ``Server: Kyso`` too, and the sender's fault is one
    throttled line, not a traceback per request (any web page can send one, unpaired)."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        """aiohttp's error answer, named as Kyso's."""
        response = super().handle_error(request, status, exc, message)
        response.headers["Server"] = SERVER_HEADER
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """A malformed request: one throttled line; anything else: aiohttp's whole story."""
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError) and exc.code < 500:
            _malformed_log.warning("refused a malformed HTTP request (%d)", exc.code)
            return
        super().log_exception(*args, **kwargs)


def _request_handler(server: web.Server) -> RequestHandler:
    # What web.Server() makes per connection (its __call__), as Kyso's subclass.
    return _KysoRequestHandler(server, loop=server._loop, **server._kwargs)


class _Guarded(asyncio.Protocol):
    """Sits between the transport and aiohttp's protocol: enforces the header deadline and
    tells the listener when the connection is gone (to free its place under the cap)."""

    def __init__(
        self, inner: asyncio.Protocol, header_timeout: float, on_close: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._header_timeout = header_timeout
        self._on_close = on_close
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""
        self._scanned = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._header_timeout, self._too_slow)
        self._inner.connection_made(transport)

    def _too_slow(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            log.debug("dropped a connection that sent no request headers in time")
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            # Only the first request is scanned; then aiohttp's keep-alive timer governs.
            window = self._tail + data[: _SCAN_LIMIT + 4]
            if b"\r\n\r\n" in window:
                self._deadline.cancel()
                self._deadline = None
            else:
                self._tail = window[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        try:
            self._inner.connection_lost(exc)
        finally:
            self._on_close()


class GuardedSite(web.BaseSite):
    """An aiohttp site on an already bound, listening socket, with our own accept loop."""

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        *,
        cap: int,
        header_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        peer_check: PeerCheck = same_user,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._sock = sock
        self.cap = cap
        self._header_timeout = header_timeout
        self._peer_check = peer_check
        host, port = sock.getsockname()[:2]
        scheme = "https" if ssl_context else "http"
        self._name = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        self.open = 0
        self.refused_full = 0
        self.refused_user = 0
        self._accepting: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._full_log = Throttled()
        self._user_log = Throttled()
        self._files_log = Throttled()

    @property
    def name(self) -> str:
        """``scheme://host:port`` of this listener."""
        return self._name

    async def start(self) -> None:
        """Register with the runner and start accepting."""
        await super().start()
        self._accepting = asyncio.create_task(self._accept_loop(), name=f"kyso-accept {self.name}")

    async def stop(self) -> None:
        """Stop accepting and drop connections still in their TLS handshake; the runner then
        closes the established ones."""
        if self._accepting is not None:
            self._accepting.cancel()
            await asyncio.gather(self._accepting, return_exceptions=True)
        self._sock.close()
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await super().stop()  # unregisters from the runner (there is no asyncio server to close)

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except (ConnectionAbortedError, InterruptedError):
                continue  # the peer gave up before we accepted: nothing to do
            except OSError as exc:
                # Never let the loop die: an agent that stops accepting answers nobody.
                self._files_log.warning(
                    "cannot accept connections on %s: %s%s",
                    self.name,
                    exc.strerror or exc,
                    ". Too many open files in this process or system."
                    if exc.errno in _OUT_OF_FILES
                    else "",
                )
                await asyncio.sleep(_ACCEPT_RETRY_SECONDS)
                continue
            try:
                self._admit(conn)
            except Exception:  # a bug here must cost one connection, not the listener
                log.exception("could not admit a connection on %s", self.name)
                conn.close()

    def _admit(self, conn: socket.socket) -> None:
        if self.open >= self.cap:
            self.refused_full += 1
            self._full_log.warning(
                "connection limit reached on %s (%d open): refusing new connections until "
                "some close. / Kyso đang có quá nhiều kết nối trên %s: tạm từ chối kết nối mới.",
                self.name,
                self.open,
                self.name,
            )
            conn.close()
            return
        try:
            allowed = self._peer_check(conn.getpeername(), conn.getsockname())
        except OSError:  # the peer is already gone
            allowed = False
        if not allowed:
            self.refused_user += 1
            self._user_log.warning("refused a connection to %s from another OS user", self.name)
            conn.close()
            return
        self.open += 1
        task = asyncio.create_task(self._connect(conn))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket) -> None:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open -= 1

        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        tls = self._ssl_context
        try:
            await loop.connect_accepted_socket(
                lambda: _Guarded(_request_handler(server), self._header_timeout, release),
                conn,
                ssl=tls,
                ssl_handshake_timeout=self._header_timeout if tls else None,
                ssl_shutdown_timeout=self._header_timeout if tls else None,
            )
        except BaseException as exc:
            # The transport has closed the socket already, except when the task was cancelled.
            conn.close()
            release()
            if not isinstance(exc, OSError):  # SSLError and TimeoutError are OSErrors
                raise
            log.debug("connection on %s ended in its TLS handshake: %r", self.name, exc)


__all__ = ["SERVER_HEADER", "GuardedSite", "Throttled", "effective_cap", "file_limit"]
