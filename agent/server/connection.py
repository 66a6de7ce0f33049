"""One WebSocket connection: read JSON-RPC messages, run commands, send answers and events.

Every request runs in its own task, so a read-only call is answered while a signature waits
for the user. A connection may have a bounded number of requests in flight; past that it gets
BUSY at once. Nothing a page sends can crash the agent or leave a request unanswered, and no
message can hold the event loop for long: validation fails fast and big params are checked in a
worker thread (``rpc.validate_params_async``).

The origin is checked again for every message: a site revoked while its page stays open (tray,
``kyso-agent sites revoke``) gets no more answers; its connection is closed with 4403 like a
refused handshake, and its running requests are cancelled with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from agent.errors import KysoError
from agent.server import rpc
from agent.server.audit import AuditRecord, call_record
from agent.server.commands import Command
from agent.server.context import AgentCore, CallContext

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 32
CLOSE_ORIGIN_NOT_ALLOWED = 4403  # as a refused handshake (agent.server.app)
REVOKE_CLOSE_SECONDS = 2.0  # a revoked page that does not read gets no longer for the close
_ids = itertools.count(1)


class AgentWebSocket(web.WebSocketResponse):
    """A WebSocket that says why before aiohttp closes it for a message over the size limit.

    aiohttp refuses such a frame from its header (nothing is buffered) and closes with 1009; the
    page would only see the close code. One JSON-RPC error (id null, MESSAGE_TOO_LARGE with the
    limit) goes out first, so the bridge can show the stable code and what to do.
    """

    def __init__(self, *, max_msg_size: int, **kwargs: Any) -> None:
        super().__init__(max_msg_size=max_msg_size, **kwargs)
        self._limit = max_msg_size

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        """Close; for 1009 (message too big) send MESSAGE_TOO_LARGE first."""
        if code == WSCloseCode.MESSAGE_TOO_BIG and not self.closed and not message:
            error = KysoError("MESSAGE_TOO_LARGE", {"limit": self._limit})
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send_str(rpc.error_message(None, error))
            message = b"MESSAGE_TOO_LARGE"
        return await super().close(code=code, message=message, drain=drain)


class Connection:
    """A connected, allowed page."""

    def __init__(self, ws: web.WebSocketResponse, origin: str) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.origin = origin
        self._send_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.revoked = False  # closed because its origin is no longer allowed

    async def send(self, text: str) -> None:
        """Send one message; a closed socket is not an error (the page went away)."""
        if self.ws.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_str(text)
            except UnicodeEncodeError:
                # A lone surrogate in a JSON string (the parser refuses them; this is the last
                # line): "\udXXX" is the same JSON escape, so the answer still goes out.
                log.error("connection %d: an answer held a lone surrogate", self.id)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.send_str(text.encode("utf-8", "backslashreplace").decode())
            except (ConnectionError, RuntimeError):
                log.debug("connection %d closed while sending", self.id)

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification (no id)."""
        await self.send(rpc.notification_message(method, params))


class Dispatcher:
    """Maps method names to commands and runs them with validation, limits and audit."""

    def __init__(self, core: AgentCore, commands: dict[str, Command]) -> None:
        self.core = core
        self.commands = commands

    async def revoke(self, conn: Connection) -> None:
        """Close ``conn`` with 4403: its origin is no longer allowed."""
        if not conn.revoked:
            log.warning("connection %d: origin %s is no longer allowed", conn.id, conn.origin)
        conn.revoked = True
        # Its requests stop now, not when the close completes: a page that stopped reading its
        # socket would hold close() in its drain until the heartbeat gave up.
        current = asyncio.current_task()
        for task in list(conn.tasks):
            if task is not current:
                task.cancel()
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            async with asyncio.timeout(REVOKE_CLOSE_SECONDS):
                await conn.ws.close(code=CLOSE_ORIGIN_NOT_ALLOWED, message=b"ORIGIN_NOT_ALLOWED")

    async def handle_text(self, conn: Connection, text: str) -> None:
        """Parse one message and start its command (or answer its error at once)."""
        if conn.revoked or not self.core.origin_allowed(conn.origin):
            # Revoked since the handshake (the periodic check may not have run yet): nothing
            # more is run for this page, whatever it asks.
            await self.revoke(conn)
            return
        try:
            request = rpc.parse_request(text)
        except rpc.RpcFailure as failure:
            await conn.send(rpc.error_message(failure.id, failure.error))
            return
        if request is None:
            log.debug("ignoring a notification from %s", conn.origin)
            return
        command = self.commands.get(request.method)
        if command is None:
            error = KysoError("METHOD_NOT_FOUND", {"method": request.method[:64]})
            await conn.send(rpc.error_message(request.id, error))
            return
        try:
            await rpc.validate_params_async(request.method, request.params)
        except KysoError as exc:
            if command.signs:
                await self._audit(conn, request, exc.code, None)
            await conn.send(rpc.error_message(request.id, exc))
            return
        if command.signs and self.core.services.signing_paused:
            # The user paused signing from the tray: refused before any prompt, and audited.
            error = KysoError("SIGNING_PAUSED")
            await self._audit(conn, request, error.code, None)
            await conn.send(rpc.error_message(request.id, error))
            return
        if command.signs and await self.core.services.audit.unavailable_async():
            # No signature without its record: refused before any prompt. unavailable() was a
            # real write of the records still waiting (the retry); this refusal's record waits
            # with them, so the first request that finds the log writable stores it and signs.
            error = KysoError("AUDIT_UNAVAILABLE", {"path": self.core.services.audit.shown_path()})
            await self._audit(conn, request, error.code, None)
            await conn.send(rpc.error_message(request.id, error))
            return
        if len(conn.tasks) >= MAX_IN_FLIGHT:
            error = KysoError("BUSY")
            if command.signs:  # every signature refused is on record, this one too
                await self._audit(conn, request, error.code, None)
            await conn.send(rpc.error_message(request.id, error))
            return
        task = asyncio.create_task(self._run(conn, command, request))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)

    def _cancel_reason(self, conn: Connection) -> str:
        """Why nobody waits for a request's answer any more: the site was revoked, the agent
        is stopping, or else the page itself went away."""
        if conn.revoked:
            return "ORIGIN_NOT_ALLOWED"
        return "AGENT_STOPPING" if self.core.stopping else "PAGE_CLOSED"

    async def _run(self, conn: Connection, command: Command, request: rpc.RpcRequest) -> None:
        ctx = CallContext(
            self.core,
            conn.origin,
            conn.id,
            request.id,
            conn.notify,
            cancelled_because=lambda: self._cancel_reason(conn),
        )
        outcome = "OK"
        try:
            result = await command.run(ctx, request.params)
            message = rpc.result_message(request.id, result)
            # A call answered normally that signed nothing (a batch whose items all failed).
            outcome = ctx.extra.get("audit_result", outcome)
        except KysoError as exc:
            outcome = exc.code
            message = rpc.error_message(request.id, exc)
        except asyncio.CancelledError:
            outcome = self._cancel_reason(conn)
            if command.signs:
                await self._audit(conn, request, outcome, ctx)
            raise
        except Exception as exc:  # never let a bug take the connection down unanswered
            log.exception("%s failed", request.method)
            error = KysoError("INTERNAL_ERROR", {"detail": type(exc).__name__})
            outcome = error.code
            message = rpc.error_message(request.id, error)
        if command.signs:
            # The record is fsynced (evidence): on the log's thread, so other pages' requests go
            # on meanwhile; still before the answer, so a signature the page holds is on record.
            await self.core.services.audit.write_async(self._record(conn, request, outcome, ctx))
        await conn.send(message)

    async def _audit(
        self, conn: Connection, request: rpc.RpcRequest, result: str, ctx: CallContext | None
    ) -> None:
        """A refusal's record, on the log's own thread: in order with the signed records still
        queued there, and a slow disk (fdatasync) never stalls the event loop."""
        await self.core.services.audit.write_async(self._record(conn, request, result, ctx))

    @staticmethod
    def _record(
        conn: Connection, request: rpc.RpcRequest, result: str, ctx: CallContext | None
    ) -> AuditRecord:
        return call_record(
            origin=conn.origin,
            method=request.method,
            result=result,
            request_id=request.id,
            ctx=ctx,
            params=request.params,
        )

    async def serve(self, conn: Connection) -> None:
        """Read messages until the page goes away; then stop its requests."""
        ws = conn.ws
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self.handle_text(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    error = KysoError(
                        "PROTOCOL_INVALID_REQUEST", {"detail": "send JSON text frames"}
                    )
                    await conn.send(rpc.error_message(None, error))
                elif msg.type is WSMsgType.ERROR:
                    log.info("connection %d from %s: %s", conn.id, conn.origin, ws.exception())
                    break
        finally:
            # The page is gone: its own requests stop (never another page's).
            for task in list(conn.tasks):
                task.cancel()
            if conn.tasks:
                await asyncio.gather(*conn.tasks, return_exceptions=True)
