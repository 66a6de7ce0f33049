"""Pairing: asking the user whether an unknown https origin may use the agent.

One question at a time, one question per origin however many connections wait for it, and
never a stream of questions (the :class:`~agent.server.origin.PairingGuard` rules): a refused or
ignored site stops being asked, and an origin refused without a question is simply closed with
4403 like any other origin that is not allowed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agent.server.context import AgentCore
from agent.server.origin import PairingGuard
from agent.ui.api import PairingAnswer, PairingRequest

log = logging.getLogger(__name__)

MAX_PAIRING_WAITING = 8  # distinct origins waiting for their question at once


class Pairing:
    """Asks the user about unknown origins, one question at a time, once per origin."""

    def __init__(self, core: AgentCore) -> None:
        self._core = core
        self._lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[bool]] = {}
        self.guard = PairingGuard()

    async def ask(self, origin: str) -> bool:
        """True when the user allowed ``origin`` (once or always)."""
        future = self._pending.get(origin)
        if future is None:
            if len(self._pending) >= MAX_PAIRING_WAITING:
                return False
            future = asyncio.get_running_loop().create_future()
            self._pending[origin] = future
            allowed = False
            try:
                allowed = await self._ask(origin)
            except Exception as exc:  # a timeout or a broken dialog is a "no"
                log.info("pairing with %s ended without an answer: %s", origin, exc)
                self.guard.refused(origin, time.monotonic(), unanswered=True)
            finally:
                # Also when this waiter is cancelled: the others must get an answer.
                future.set_result(allowed)
                del self._pending[origin]
        return await asyncio.shield(future)

    async def _ask(self, origin: str) -> bool:
        core = self._core
        async with self._lock:  # one pairing dialog at a time
            if origin in core.allowed_origins():
                return True
            if origin in core.denied_origins:
                return False
            now = time.monotonic()
            refusal = self.guard.refusal(origin, now)
            if refusal is not None:
                log.warning("pairing: not asking about %s (%s)", origin, refusal.value)
                return False
            self.guard.asking(now)
            answer = await core.ask(core.services.prompter.pair(PairingRequest(origin)))
        log.warning("pairing: %s -> %s", origin, answer)
        if answer == PairingAnswer.ALWAYS:
            core.services.approvals.add(origin)
            return True
        if answer == PairingAnswer.ONCE:
            core.session_origins.add(origin)
            return True
        core.denied_origins.add(origin)
        self.guard.refused(origin, time.monotonic())
        return False
