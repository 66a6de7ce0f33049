"""Who signs when: per-token queues, per-origin limits, PIN caching and certificate lookup.

- One signing operation at a time per token; up to ``max_queue`` more wait their turn, the
  next one is told BUSY at once (never a silent pile-up).
- One origin may have ``max_pending_per_origin`` operations waiting or running, one connection
  only one: a page cannot stack prompts (Web eID's ACTION_PENDING).
- Nothing here cancels anybody else's operation: a request only ever waits or is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.config.settings import PinCache
from agent.errors import KysoError
from agent.tokens.module import TokenCertificate
from agent.tokens.pin import PinProvider
from agent.tokens.service import KeySession, TokenService

if TYPE_CHECKING:
    from agent.signing.certstatus import CertStatus, StatusChecker
    from agent.signing.trust import Purpose

log = logging.getLogger(__name__)


class PendingLimiter:
    """Counts signing operations per origin and per connection."""

    def __init__(self, per_origin: int) -> None:
        self._per_origin = per_origin
        self._origins: Counter[str] = Counter()
        self._connections: set[int] = set()

    def pending(self, origin: str) -> int:
        """Signing operations this origin has waiting or running."""
        return self._origins.get(origin, 0)

    @contextlib.contextmanager
    def hold(self, origin: str, connection_id: int) -> Iterator[None]:
        """Reserve a place for one operation, or raise ACTION_PENDING."""
        if connection_id in self._connections or self._origins[origin] >= self._per_origin:
            raise KysoError("ACTION_PENDING", {"origin": origin})
        self._connections.add(connection_id)
        self._origins[origin] += 1
        try:
            yield
        finally:
            self._connections.discard(connection_id)
            self._origins[origin] -= 1
            if self._origins[origin] <= 0:
                del self._origins[origin]


@dataclass
class _Gate:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class TokenQueue:
    """One operation at a time per token, a bounded number waiting."""

    def __init__(self, max_queue: int) -> None:
        self._max_queue = max_queue
        self._gates: dict[tuple[str, str], _Gate] = {}

    def depth(self, token_key: tuple[str, str]) -> int:
        """Operations running or waiting on this token."""
        gate = self._gates.get(token_key)
        return 0 if gate is None else gate.waiting + int(gate.lock.locked())

    @contextlib.asynccontextmanager
    async def turn(self, token_key: tuple[str, str]) -> AsyncIterator[None]:
        """Wait for this token's turn, or raise BUSY when the queue is full."""
        gate = self._gates.setdefault(token_key, _Gate())
        if gate.lock.locked() and gate.waiting >= self._max_queue:
            raise KysoError("BUSY")
        gate.waiting += 1
        try:
            await gate.lock.acquire()
        finally:
            gate.waiting -= 1
        try:
            yield
        finally:
            gate.lock.release()


@dataclass
class _CachedKey:
    thumbprint: str
    key: KeySession
    stack: contextlib.AsyncExitStack
    timer: asyncio.TimerHandle | None = None


class KeyPool:
    """Opens key sessions; with PIN caching on, keeps one logged in per token until idle.

    Callers hold the token's :class:`TokenQueue` turn while using a key, so a cached session is
    never used by two operations at once.
    """

    def __init__(self, tokens: TokenService, pin_cache: PinCache) -> None:
        self._tokens = tokens
        self._cache = pin_cache
        self._keys: dict[tuple[str, str], _CachedKey] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def key(self, cert: TokenCertificate, pins: PinProvider) -> AsyncIterator[KeySession]:
        """A logged-in key for ``cert``; the PIN is asked through ``pins`` only when needed."""
        if not self._cache.enabled:
            async with self._tokens.open_key(cert, pins) as key:
                yield key
            return
        token_key = cert.token.key
        cached = self._keys.get(token_key)
        if cached is not None and cached.thumbprint != cert.thumbprint:
            await self._close(token_key)  # another key on the same token: log out first
            cached = None
        if cached is None:
            stack = contextlib.AsyncExitStack()
            key = await stack.enter_async_context(self._tokens.open_key(cert, pins))
            cached = self._keys[token_key] = _CachedKey(cert.thumbprint, key, stack)
        if cached.timer is not None:
            cached.timer.cancel()
            cached.timer = None
        try:
            yield cached.key
        except KysoError as exc:
            if exc.code in ("TOKEN_REMOVED", "TOKEN_ERROR", "PIN_LOCKED"):
                await self._close(token_key)
            raise
        finally:
            if self._keys.get(token_key) is cached:
                loop = asyncio.get_running_loop()
                cached.timer = loop.call_later(
                    self._cache.idle_seconds, self._expire, token_key, cached
                )

    def _expire(self, token_key: tuple[str, str], cached: _CachedKey) -> None:
        if self._keys.get(token_key) is cached:
            task = asyncio.get_running_loop().create_task(self._close(token_key))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close(self, token_key: tuple[str, str]) -> None:
        cached = self._keys.pop(token_key, None)
        if cached is None:
            return
        if cached.timer is not None:
            cached.timer.cancel()
        try:
            await cached.stack.aclose()
        except Exception:  # logging out of a removed token fails; the session is gone anyway
            log.debug("closing a cached key session failed", exc_info=True)
        log.info("PIN cache: logged out of token %s", token_key[1])

    @property
    def cached_tokens(self) -> int:
        """How many tokens are kept logged in right now."""
        return len(self._keys)

    async def close(self) -> None:
        """Log out of every cached session (agent shutdown)."""
        for token_key in list(self._keys):
            await self._close(token_key)


class CertificateDirectory:
    """The certificates on present tokens, read once and refreshed on hot-plug or a miss."""

    def __init__(self, tokens: TokenService, status: StatusChecker | None = None) -> None:
        self._tokens = tokens
        self._certs: list[TokenCertificate] | None = None
        self._lock = asyncio.Lock()
        self._status = status  # made on first use: its cache lives under the state root

    def invalidate(self) -> None:
        """Forget the list (a token came or went)."""
        self._certs = None

    async def all(self, *, fresh: bool = False) -> list[TokenCertificate]:
        """Every certificate; ``fresh`` reads the tokens again."""
        async with self._lock:
            if fresh or self._certs is None:
                self._certs = await self._tokens.list_certificates()
            return list(self._certs)

    async def find(self, thumbprint: str) -> TokenCertificate:
        """The certificate with this thumbprint; reads the tokens again before giving up."""
        wanted = thumbprint.replace(":", "").lower()
        for fresh in (False, True):
            for cert in await self.all(fresh=fresh):
                if cert.thumbprint == wanted:
                    return cert
        raise KysoError("CERT_NOT_FOUND", {"thumbprint": wanted})

    async def check_status(self, cert: TokenCertificate, purpose: Purpose) -> CertStatus:
        """Before any prompt: refuse a certificate that is expired, not yet valid, not for
        ``purpose`` or revoked (its code); otherwise its revocation status, good or unknown
        (at most 3 s of network; unknown is shown in the consent, not a block)."""
        # Imported at first use: revocation checking (pyhanko-certvalidator) is not needed
        # until a page asks to sign, so an idle agent does not load it (bench/footprint.py).
        from agent.signing.certstatus import StatusChecker, check_before_signing

        if self._status is None:
            self._status = StatusChecker()
        # CA certificates on the tokens are the likeliest issuers (no download needed).
        issuers = [c.info.der for c in await self.all() if c.info.is_ca]
        status = await check_before_signing(self._status, cert.info.der, purpose, issuers)
        if status.status == "unknown":
            log.warning("revocation status of %s unknown: %s", cert.thumbprint[:16], status.reason)
        return status
