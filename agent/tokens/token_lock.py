"""One lock per token per process: turns, the waiting bound and the login kept between turns.

PKCS#11 login state belongs to the token and the process, not to a session: while one caller is
logged in, a second ``C_Login`` answers ``CKR_USER_ALREADY_LOGGED_IN`` without looking at the PIN.
So the lock that serialises key sessions must be as wide as the login state: it lives on the
shared :class:`~agent.tokens.module.Pkcs11Module`, not on a ``TokenService``, and it works across
event loops (the agent, a CLI command and a test may each run their own).

The same object is the agent's admission queue (first come, first served; past ``max_waiting``
callers waiting, the next one is told BUSY at once) and it holds the login a PIN cache keeps
between operations (:class:`ParkedLogin`): the lock itself is free between operations, and only
the holder of a turn may take the parked login, reuse it or log it out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.errors import KysoError

if TYPE_CHECKING:
    from agent.tokens.model import SessionHandle
    from agent.tokens.module import Pkcs11Module


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


@dataclass(eq=False)
class ParkedLogin:
    """A logged-in session kept between turns by a PIN cache (``owner``), for one certificate.

    Only ``owner`` may reuse it; anyone else holding the turn logs it out first, so the token
    judges every PIN typed (a login is per process: reusing it would skip that check).
    """

    owner: Any  # the LoginCache that parked it (identity is what counts)
    thumbprint: str
    module: Pkcs11Module
    handle: SessionHandle
    idle_until: float  # time.monotonic(): after this, it is logged out
    timer: asyncio.TimerHandle | None = None
    # Who may reuse it besides the cache and key: the server passes the page's origin, so a
    # PIN typed for one site never signs for another without being asked again.
    scope: str = ""

    async def close(self) -> None:
        """Log out and close the session (nothing is raised for a token already gone)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        await self.module.close_session(self.handle)


@dataclass(eq=False)
class TokenLock:
    """A fair async lock usable from any event loop; released by whoever ends the turn.

    ``owner`` is the task that holds the turn, so a task asking twice can be told instead of
    waiting for itself. ``login`` is touched only by the holder of the turn.
    """

    owner: object | None = None
    login: ParkedLogin | None = None
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    _held: bool = False
    _waiters: deque[_Waiter] = field(default_factory=deque)

    def locked(self) -> bool:
        """True while someone holds the token's turn."""
        return self._held

    @property
    def waiting(self) -> int:
        """Callers waiting for their turn (not counting the one that holds it)."""
        return len(self._waiters)

    async def acquire(self, *, max_waiting: int | None = None) -> None:
        """Wait for the token, first come first served. With ``max_waiting``, a caller that
        would be waiting behind that many others is refused with BUSY instead."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            if max_waiting is not None and len(self._waiters) >= max_waiting:
                raise KysoError("BUSY")
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._mutex:
                if not waiter.granted:
                    self._waiters.remove(waiter)
                    raise
            self.release()  # handed to us just as we were cancelled: pass it on
            raise

    def try_acquire(self) -> bool:
        """Take the turn only if nobody holds it and nobody waits (never waits)."""
        with self._mutex:
            if self._held:
                return False
            self._held = True
            return True

    def release(self) -> None:
        """Hand the token to the next waiter, or free it."""
        with self._mutex:
            self.owner = None
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.granted = True
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # that waiter's event loop is closed: nobody to wake
                    continue
                return
            self._held = False

    # ---- the parked login (holder of the turn only) --------------------------------------------
    def take_login(
        self, owner: object, thumbprint: str, scope: str = ""
    ) -> tuple[ParkedLogin | None, bool]:
        """Remove the parked login; True with it when ``owner`` may reuse it for
        ``thumbprint`` in ``scope`` (same cache, same key, same scope, not idle past its time),
        else False: the caller must log it out before logging in."""
        login, self.login = self.login, None
        if login is None:
            return None, False
        if login.timer is not None:
            login.timer.cancel()
            login.timer = None
        usable = (
            owner is not None
            and login.owner is owner
            and login.thumbprint == thumbprint
            and login.scope == scope
            and time.monotonic() < login.idle_until
        )
        return login, usable


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
