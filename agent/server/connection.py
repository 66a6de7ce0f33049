"""One WebSocket connection: read JSON-RPC messages, run commands, send answers and events.

Every request runs in its own task, so a read-only call is answered while a signature waits
for the user. A connection may have a bounded number of requests in flight; past that it gets
BUSY at once. Nothing a page sends can crash the agent or leave a request unanswered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from aiohttp import WSMsgType, web

from agent.errors import KysoError
from agent.server import rpc
from agent.server.audit import AuditRecord
from agent.server.commands import Command
from agent.server.context import AgentCore, CallContext

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 32
_ids = itertools.count(1)


class Connection:
    """A connected, allowed page."""

    def __init__(self, ws: web.WebSocketResponse, origin: str) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.origin = origin
        self._send_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, text: str) -> None:
        """Send one message; a closed socket is not an error (the page went away)."""
        if self.ws.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_str(text)
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

    async def handle_text(self, conn: Connection, text: str) -> None:
        """Parse one message and start its command (or answer its error at once)."""
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
            rpc.validate_params(request.method, request.params)
        except KysoError as exc:
            if command.signs:
                self._audit(conn, request, exc.code, None)
            await conn.send(rpc.error_message(request.id, exc))
            return
        if len(conn.tasks) >= MAX_IN_FLIGHT:
            await conn.send(rpc.error_message(request.id, KysoError("BUSY")))
            return
        task = asyncio.create_task(self._run(conn, command, request))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)

    async def _run(self, conn: Connection, command: Command, request: rpc.RpcRequest) -> None:
        ctx = CallContext(self.core, conn.origin, conn.id, request.id, conn.notify)
        outcome = "OK"
        try:
            result = await command.run(ctx, request.params)
            message = rpc.result_message(request.id, result)
        except KysoError as exc:
            outcome = exc.code
            message = rpc.error_message(request.id, exc)
        except asyncio.CancelledError:
            outcome = "AGENT_STOPPING"
            if command.signs:
                self._audit(conn, request, outcome, ctx)
            raise
        except Exception as exc:  # never let a bug take the connection down unanswered
            log.exception("%s failed", request.method)
            error = KysoError("INTERNAL_ERROR", {"detail": type(exc).__name__})
            outcome = error.code
            message = rpc.error_message(request.id, error)
        if command.signs:
            self._audit(conn, request, outcome, ctx)
        await conn.send(message)

    def _audit(
        self, conn: Connection, request: rpc.RpcRequest, result: str, ctx: CallContext | None
    ) -> None:
        self.core.services.audit.write(
            AuditRecord(
                origin=conn.origin,
                method=request.method,
                result=result,
                thumbprint=ctx.thumbprint if ctx else None,
                sha256=ctx.sha256 if ctx else None,
                request_id=str(request.id),
            )
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
