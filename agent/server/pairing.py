"""Pairing: asking the user whether an unknown https origin may use the agent.

One question at a time, one question per origin however many connections wait for it, and
never a stream of questions (the :class:`~agent.server.origin.PairingGuard` rules): a refused or
ignored site stops being asked, several refusals in a row pause all new questions for a while,
and an origin refused without a question is simply closed with 4403 like any other origin that
is not allowed.

A handshake waiting for its answer holds a TCP connection under the listener's cap for up to the
prompt timeout, so the waiting handshakes are bounded too: at most
:data:`MAX_HANDSHAKES_PER_ORIGIN` per origin, a quarter of ``max_waiting`` per site and
``max_waiting`` in all (a small share of the cap, see :func:`waiting_budget`); and at most
:data:`MAX_PAIRING_WAITING` origins, :data:`MAX_WAITING_PER_SITE` per site, wait for their
question. One more raises :class:`PairingBusy` at once (the WebSocket is closed with 4429
"TOO_MANY_CONNECTIONS": busy, try later; not 4403, which would tell an innocent page that the
user refused it): an unpaired page opening a hundred sockets cannot keep paired portals out.

Both pools give one site at most a quarter (at least one place), so fewer than four sites never
fill them at a cap of 16 or more; and a site the guard will not ask about (refused twice,
ignored a moment ago, or every new site while questions are paused) takes no place at all: it
is refused before it queues, not after waiting its turn behind someone else's question.

The question belongs to its origin, not to the handshake that raised it: it is withdrawn (never
shown) or closed (if shown) only when the last handshake waiting for it is gone, so a page that
fills the places and closes leaves nothing behind (see ``app.py``, which notices the client
leaving). A shown question withdrawn that way counts as one left unanswered, else a page could
show questions and take them back without ever reaching the limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from agent.server.context import AgentCore
from agent.server.origin import (
    SITE_STRIKES,
    PairingGuard,
    PairingRefusal,
    shown_domain,
    site_of,
)
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
_LASTING_REFUSALS = (
    PairingRefusal.SITE_REFUSED,
    PairingRefusal.UNANSWERED,
    PairingRefusal.PAUSED,
)


def waiting_budget(connection_cap: int) -> int:
    """How many handshakes may wait for pairing answers: :data:`MAX_HANDSHAKES_WAITING`, but
    never more than a quarter of the listener's connection cap (at least one)."""
    return max(1, min(MAX_HANDSHAKES_WAITING, connection_cap // 4))


class PairingBusy(Exception):
    """No place for this handshake to wait for a pairing answer (too many wait for this
    origin, its site or in all, or too many origins wait for their question), or no question
    may be shown this minute: refused at once as busy ("try later") rather than holding a
    connection, and without a word against the origin."""

    def __init__(self, origin: str, reason: str = "too many WebSockets waiting for pairing"):
        super().__init__(origin)
        self.reason = reason


class Pairing:
    """Asks the user about unknown origins, one question at a time, once per origin."""

    def __init__(
        self,
        core: AgentCore,
        *,
        max_waiting: int = MAX_HANDSHAKES_WAITING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core
        self._lock = asyncio.Lock()
        # Each origin's one question, asked in its own task: it outlives the handshake that
        # raised it, and ends when answered or when no handshake waits for it any more.
        self._pending: dict[str, asyncio.Task[bool]] = {}
        self.guard = PairingGuard()
        self.clock = clock  # monotonic seconds; tests move time on without sleeping
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
        """True when the user allowed ``origin`` (once or always), False when refused (by the
        user or the guard); :class:`PairingBusy` when there is no place to wait. Cancelling
        this call (the page went away) gives its place back, and withdraws the origin's
        question once no other handshake waits for it."""
        if origin not in self._pending:
            refusal = self.guard.refusal(origin, self.clock())
            if refusal is not None and refusal in _LASTING_REFUSALS:
                log.warning("pairing: not asking about %s (%s)", origin, refusal.value)
                return False  # the true answer, before any place is looked for
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
            return await asyncio.shield(self._question(origin))
        finally:
            _count_down(self.waiting, origin)
            _count_down(self.waiting_per_site, site)
            question = self._pending.get(origin)
            if origin not in self.waiting and question is not None and not question.done():
                question.cancel()  # nobody waits for the answer any more

    def _question(self, origin: str) -> asyncio.Task[bool]:
        """``origin``'s question: the one already pending, or a new one if there is room."""
        question = self._pending.get(origin)
        if question is not None:
            return question
        site = site_of(origin)
        if (
            len(self._pending) >= MAX_PAIRING_WAITING
            or sum(site_of(o) == site for o in self._pending) >= MAX_WAITING_PER_SITE
        ):
            raise PairingBusy(origin)
        question = asyncio.create_task(self._ask(origin), name="kyso-pairing")
        self._pending[origin] = question
        return question

    async def _ask(self, origin: str) -> bool:
        try:
            return await self._ask_in_turn(origin)
        except PairingBusy:
            raise  # not a "no": its handshakes are told to try later
        except Exception as exc:  # e.g. the approvals could not be read: not allowed
            log.warning("pairing with %s failed: %r", origin, exc)
            return False
        finally:
            # Before the task is done, so a newcomer never joins a finished question.
            if self._pending.get(origin) is asyncio.current_task():
                del self._pending[origin]

    async def _ask_in_turn(self, origin: str) -> bool:
        core = self._core
        async with self._lock:  # one pairing dialog at a time
            if origin in core.allowed_origins():
                return True
            if origin in core.denied_origins:
                return False
            now = self.clock()
            refusal = self.guard.refusal(origin, now)
            if refusal is PairingRefusal.TOO_MANY:
                # Other sites' questions used this minute's share: nothing against this one,
                # which may well be the user's portal (a page raising questions to crowd it
                # out must not make it look refused). Busy, try later; it is asked then.
                log.warning("pairing: not asking about %s this minute (too many questions)", origin)
                raise PairingBusy(origin, "too many pairing questions this minute")
            if refusal is not None:
                log.warning("pairing: not asking about %s (%s)", origin, refusal.value)
                return False
            self.guard.asking(now)
            try:
                answer = await core.ask(
                    core.services.prompter.pair(PairingRequest(origin, domain=shown_domain(origin)))
                )
            except asyncio.CancelledError:
                # Its pages went away: the dialog closes. Shown is shown: it counts.
                log.info("pairing with %s withdrawn: no page waits for it any more", origin)
                self.guard.refused(origin, self.clock())
                raise
            except Exception as exc:  # a timeout or a broken dialog is a "no"
                log.info("pairing with %s ended without an answer: %s", origin, exc)
                self.guard.refused(origin, self.clock(), unanswered=True)
                return False
        log.warning("pairing: %s -> %s", origin, answer)
        if answer == PairingAnswer.ALWAYS:
            core.services.approvals.add(origin)
            self.guard.allowed()
            return True
        if answer == PairingAnswer.ONCE:
            core.services.approvals.allow_once(origin)
            self.guard.allowed()
            return True
        core.denied_origins.add(origin)
        self.guard.refused(origin, self.clock())
        return False


def _count_down(counts: dict[str, int], key: str) -> None:
    """One less for ``key``; the key goes once it reaches zero (no stale entries pile up)."""
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
