"""Keeps a page from asking for consent again and again after the user said no. Pure logic.

A page the user paired can send a signing request the moment the last one was cancelled, and
again, and again: a stream of consent windows, each a chance of a tired or mistaken "Ký" (with
the PIN cache on, that one click signs without a PIN). Pairing has the same guard
(:class:`agent.server.origin.PairingGuard`); this one is per origin: after :data:`STRIKES`
refusals in a row (Hủy in the consent or the certificate picker, or a consent nobody answered)
within :data:`STRIKE_WINDOW_SECONDS`, that origin's signing requests are refused without a
window (CONSENT_COOLDOWN) for :data:`FIRST_BACKOFF_SECONDS`, doubling at each new back-off up to
:data:`MAX_BACKOFF_SECONDS`. A consent given resets the origin.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

STRIKES = 3  # refusals in a row before the origin is not asked for a while
STRIKE_WINDOW_SECONDS = 60.0
FIRST_BACKOFF_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 300.0
# A back-off's length is forgotten after this long without a refusal from the origin.
FORGET_AFTER_SECONDS = 600.0


@dataclass
class _Origin:
    refusals: deque[float] = field(default_factory=deque)  # times of recent refusals in a row
    backoffs: int = 0  # back-offs so far: the next one is twice as long
    until: float = 0.0  # no consent window before this time
    last: float = 0.0  # the last refusal


@dataclass
class ConsentGuard:
    """Per origin: how long before it may ask for consent again. The caller gives the time
    (monotonic seconds) and reports each answer."""

    origins: dict[str, _Origin] = field(default_factory=dict)

    def wait_seconds(self, origin: str, now: float) -> int:
        """Whole seconds before ``origin`` may show a consent window again (0: now)."""
        state = self.origins.get(origin)
        if state is None or state.until <= now:
            return 0
        return max(1, math.ceil(state.until - now))

    def refused(self, origin: str, now: float) -> None:
        """The user said no to ``origin`` (or let its window time out)."""
        state = self.origins.setdefault(origin, _Origin())
        if now - state.last > FORGET_AFTER_SECONDS:
            state.backoffs = 0
        state.last = now
        while state.refusals and state.refusals[0] <= now - STRIKE_WINDOW_SECONDS:
            state.refusals.popleft()
        state.refusals.append(now)
        if len(state.refusals) >= STRIKES:
            pause = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**state.backoffs)
            state.until = now + pause
            state.backoffs += 1
            state.refusals.clear()

    def accepted(self, origin: str) -> None:
        """The user agreed: the origin starts afresh."""
        self.origins.pop(origin, None)
