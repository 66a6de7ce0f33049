"""A turn on a token, the key session it opens, and the PIN cache that keeps a login between turns.

:meth:`TokenService.reserve <agent.tokens.service.TokenService.reserve>` waits for the token's
one lock (:class:`~agent.tokens.token_lock.TokenLock`) and yields a :class:`TokenTurn`; the turn
opens the key (:meth:`TokenTurn.key`), asking the PIN only when no reusable login is parked.
A :class:`LoginCache` parks the login on the token's lock when the turn ends, so the lock is
free between operations while the token stays logged in, until the cache's idle time passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from agent.errors import ErrorGroup, KysoError, invalid_input
from agent.tokens.algorithms import SignatureAlgorithm, check_digest
from agent.tokens.token_lock import ParkedLogin, TokenLock

if TYPE_CHECKING:
    from agent.tokens.model import SessionHandle, TokenCertificate
    from agent.tokens.module import Pkcs11Module
    from agent.tokens.pin import PinProvider

log = logging.getLogger(__name__)

LoginFn = Callable[["Pkcs11Module", "TokenCertificate", "PinProvider"], Awaitable["SessionHandle"]]


class KeySession:
    """A logged-in private key on a token. Obtained from ``TokenService.open_key`` or
    :meth:`TokenTurn.key`."""

    def __init__(self, module: Pkcs11Module, handle: SessionHandle, cert: TokenCertificate) -> None:
        self._module = module
        self._handle = handle
        self.certificate = cert

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign ``data``; ECDSA signatures come back DER-encoded."""
        self._check_kind(algorithm)
        return await self._module.sign(self._handle, algorithm, data, is_digest=False)

    async def sign_digest(self, digest_value: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign a precomputed digest of the algorithm's hash."""
        self._check_kind(algorithm)
        check_digest(algorithm, digest_value)
        return await self._module.sign(self._handle, algorithm, digest_value, is_digest=True)

    def _check_kind(self, algorithm: SignatureAlgorithm) -> None:
        if algorithm.key_kind.value != self.certificate.info.key_type:
            key_type = self.certificate.info.key_type
            raise invalid_input(
                f"{algorithm.value} does not fit a {key_type} key",
                f"thuật toán {algorithm.value} không phù hợp với khóa {key_type}",
            )


class LoginCache:
    """The agent's PIN cache: a login kept per token between operations until idle.

    The login is parked on the token's lock (never a held lock), reused only by this cache for
    the same certificate, and logged out after ``idle_seconds`` without use, when turned off,
    or at :meth:`close`.
    """

    def __init__(self, idle_seconds: float, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.idle_seconds = idle_seconds
        self._locks: set[TokenLock] = set()  # where this cache has parked a login
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def cached_tokens(self) -> int:
        """How many tokens are kept logged in right now."""
        return sum(1 for lock in self._locks if lock.login is not None and lock.login.owner is self)

    @property
    def busy(self) -> bool:
        """True while an idle logout is still running (tests wait for it)."""
        return bool(self._closing)

    def park(self, lock: TokenLock, login: ParkedLogin) -> None:
        """Keep ``login`` on ``lock`` (by the holder of its turn, before releasing it)."""
        lock.login = login
        self._locks.add(lock)

    def arm(self, lock: TokenLock) -> None:
        """(Re)start the idle timer of the login parked on ``lock``, on the running loop; by the
        holder of the turn just before it releases the lock."""
        login = lock.login
        if login is None or login.owner is not self:
            return
        if login.timer is not None:
            login.timer.cancel()
        delay = max(0.0, login.idle_until - time.monotonic())
        login.timer = asyncio.get_running_loop().call_later(delay, self._expire, lock, login)

    def _expire(self, lock: TokenLock, login: ParkedLogin) -> None:
        login.timer = None
        # Someone holds the turn: they re-arm the timer when their turn ends.
        if lock.login is not login or not lock.try_acquire():
            return
        task = asyncio.get_running_loop().create_task(self._logout(lock, login))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _logout(self, lock: TokenLock, login: ParkedLogin | None = None) -> None:
        """Log out of this cache's login on ``lock`` (``login``: only if still that one); the
        caller holds the turn, released here."""
        try:
            parked = lock.login
            if parked is not None and parked.owner is self and login in (None, parked):
                lock.login = None
                await close_quietly(parked)
                log.info("PIN cache: logged out of token %s", parked.handle.token.serial)
        finally:
            lock.release()

    def set_pin_cache(self, enabled: bool) -> None:
        """Turn PIN caching on or off while running (the tray's setting; on the event loop).
        Off logs out of every cached session at once, so the next signature asks the PIN."""
        self.enabled = enabled
        if not enabled and self._locks:
            task = asyncio.get_running_loop().create_task(self.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Log out of every login this cache keeps (agent shutdown), each in its token's turn."""
        for lock in list(self._locks):
            await lock.acquire()
            await self._logout(lock)
        self._locks.clear()


async def close_quietly(login: ParkedLogin) -> None:
    """Log out of a parked login; a pulled token has nothing left to close."""
    try:
        await login.close()
    except Exception:
        log.debug("closing a parked login failed", exc_info=True)


# Errors after which a logged-in session is not kept: the token is gone or faulty, or the PIN
# state changed.
_DO_NOT_KEEP = (ErrorGroup.TOKEN_GONE, ErrorGroup.TOKEN_FAULT, ErrorGroup.PIN)


class TokenTurn:
    """The caller's turn on a token (from ``TokenService.reserve``): open its key here."""

    def __init__(
        self, module: Pkcs11Module, lock: TokenLock, cert: TokenCertificate, login: LoginFn
    ) -> None:
        self._module = module
        self._lock = lock
        self.certificate = cert
        self._login = login

    @contextlib.asynccontextmanager
    async def key(
        self, pin_provider: PinProvider, *, cache: LoginCache | None = None, scope: str = ""
    ) -> AsyncIterator[KeySession]:
        """A logged-in key for the turn's certificate. With an enabled ``cache``, a login it
        parked for this certificate and ``scope`` is reused (no PIN asked) and this one is
        parked when the block ends; any other parked login is logged out before the PIN is
        presented."""
        cert, module = self.certificate, self._module
        keep = cache if cache is not None and cache.enabled else None
        parked, reusable = self._lock.take_login(keep, cert.thumbprint, scope)
        if parked is not None and not reusable:
            await close_quietly(parked)  # another cache's, another key's, or idle too long
            parked = None
        handle = (
            parked.handle if parked is not None else await self._login(module, cert, pin_provider)
        )
        park = False
        try:
            yield KeySession(module, handle, cert)
            park = keep is not None
        except KysoError as exc:
            # A failed signature keeps the login unless the session itself is suspect.
            park = keep is not None and not exc.is_(*_DO_NOT_KEEP)
            raise
        finally:
            if park and keep is not None and keep.enabled:
                idle_until = time.monotonic() + keep.idle_seconds
                keep.park(
                    self._lock,
                    ParkedLogin(keep, cert.thumbprint, module, handle, idle_until, scope=scope),
                )
            else:
                module.close_session_soon(handle)  # in order on the module's thread
