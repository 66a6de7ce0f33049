"""Pairing: asking the user whether an unknown https origin may use the agent.

One question at a time, one question per origin however many connections wait for it, and
never a stream of questions (the :class:`~agent.server.origin.PairingGuard` rules): a refused or
ignored site stops being asked, and an origin refused without a question is simply closed with
4403 like any other origin that is not allowed.

A handshake waiting for its answer holds a TCP connection under the listener's cap for up to the
prompt timeout, so the waiting handshakes are bounded too: at most
:data:`MAX_HANDSHAKES_PER_ORIGIN` per origin, a quarter of ``max_waiting`` per site and
``max_waiting`` in all (a small share of the cap, see :func:`waiting_budget`). One more raises
:class:`PairingBusy` at once (the WebSocket is closed with 4429 "TOO_MANY_CONNECTIONS"): an
unpaired page opening a hundred sockets cannot keep paired portals out.

Both pools (origins waiting for their question, handshakes waiting for an answer) give one site
at most a quarter (at least one place), so fewer than four sites never fill them at a cap of 16
or more; and a site the guard will not ask about any more (refused twice, or ignored a moment
ago) takes no place at all: it is refused before it queues, not after waiting its turn behind
someone else's question. Registrable domains cost next to nothing, so enough of them still fill
every place; then a newcomer is refused at once, and every place they hold is a question the
user sees and a strike against its site.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agent.server.context import AgentCore
from agent.server.origin import SITE_STRIKES, PairingGuard, PairingRefusal, site_of
from agent.ui.api import PairingAnswer, PairingRequest

log = logging.getLogger(__name__)

MAX_PAIRING_WAITING = 8  # distinct origins waiting for their question at once
# Distinct origins of one site (registrable domain) waiting at once: a site is asked about at most
# SITE_STRIKES origins anyway, so one site cannot take every waiting place from other sites.
MAX_WAITING_PER_SITE = SITE_STRIKES
MAX_HANDSHAKES_PER_ORIGIN = 4  # WebSocket handshakes waiting on one origin's question
MAX_HANDSHAKES_WAITING = 16  # handshakes waiting on any question, at most
# Refusals that still hold when the origin's turn comes (the per-minute limit may not): checked
# before an origin takes a waiting place, so a site the user is done with holds none.
_LASTING_REFUSALS = (PairingRefusal.SITE_REFUSED, PairingRefusal.UNANSWERED)


def waiting_budget(connection_cap: int) -> int:
    """How many handshakes may wait for pairing answers: :data:`MAX_HANDSHAKES_WAITING`, but
    never more than a quarter of the listener's connection cap (at least one)."""
    return max(1, min(MAX_HANDSHAKES_WAITING, connection_cap // 4))


class PairingBusy(Exception):
    """Too many WebSocket handshakes already wait for a pairing answer (from this origin, or
    in all): this one is refused at once rather than holding a connection."""


class Pairing:
    """Asks the user about unknown origins, one question at a time, once per origin."""

    def __init__(self, core: AgentCore, *, max_waiting: int = MAX_HANDSHAKES_WAITING) -> None:
        self._core = core
        self._lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[bool]] = {}
        self.guard = PairingGuard()
        self.max_waiting = max(1, max_waiting)
        # One site (however many origins) a quarter of the budget, so two sites cannot take it
        # all, nor one origin at a small cap.
        self.max_per_site = max(1, self.max_waiting // 4)
        self.max_per_origin = min(MAX_HANDSHAKES_PER_ORIGIN, self.max_per_site)
        self.waiting: dict[str, int] = {}  # handshakes waiting, per origin
        self.waiting_per_site: dict[str, int] = {}

    @property
    def waiting_total(self) -> int:
        """Handshakes waiting for any pairing answer now."""
        return sum(self.waiting.values())

    async def ask(self, origin: str) -> bool:
        """True when the user allowed ``origin`` (once or always); :class:`PairingBusy` when
        too many handshakes already wait (for this origin, its site or in all)."""
        site = site_of(origin)
        if (
            self.waiting.get(origin, 0) >= self.max_per_origin
            or self.waiting_per_site.get(site, 0) >= self.max_per_site
            or self.waiting_total >= self.max_waiting
        ):
            raise PairingBusy(origin)
        self.waiting[origin] = self.waiting.get(origin, 0) + 1
        self.waiting_per_site[site] = self.waiting_per_site.get(site, 0) + 1
        try:
            return await self._shared(origin)
        finally:
            _count_down(self.waiting, origin)
            _count_down(self.waiting_per_site, site)

    async def _shared(self, origin: str) -> bool:
        """The answer to ``origin``'s one question, asked by the first waiter."""
        future = self._pending.get(origin)
        if future is None:
            site = site_of(origin)
            if (
                len(self._pending) >= MAX_PAIRING_WAITING
                or sum(site_of(o) == site for o in self._pending) >= MAX_WAITING_PER_SITE
                or self.guard.refusal(origin, time.monotonic()) in _LASTING_REFUSALS
            ):
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
            core.services.approvals.allow_once(origin)
            return True
        core.denied_origins.add(origin)
        self.guard.refused(origin, time.monotonic())
        return False


def _count_down(counts: dict[str, int], key: str) -> None:
    """One less for ``key``; the key goes once it reaches zero (no stale entries pile up)."""
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
