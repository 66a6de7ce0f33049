"""One key session per token per process, whichever event loop or service asks.

PKCS#11 login state belongs to the token and the process, not to a session: while one caller is
logged in, a second ``C_Login`` answers ``CKR_USER_ALREADY_LOGGED_IN`` without looking at the PIN.
So the lock that serialises key sessions must be as wide as the login state: it lives on the
shared :class:`~agent.tokens.module.Pkcs11Module`, not on a ``TokenService``, and it works across
event loops (the agent, a CLI command and a test may each run their own).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False


@dataclass(eq=False)
class TokenLock:
    """A fair async lock usable from any event loop; released by whoever ends the session.

    ``owner`` is the task that acquired it, so a task asking twice can be told instead of
    waiting for itself.
    """

    owner: object | None = None
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    _held: bool = False
    _waiters: deque[_Waiter] = field(default_factory=deque)

    def locked(self) -> bool:
        """True while a key session holds the token."""
        return self._held

    async def acquire(self) -> None:
        """Wait for the token, first come first served."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
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


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
