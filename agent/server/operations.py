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
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agent.config.settings import PinCache
from agent.errors import ErrorGroup, KysoError
from agent.tokens.module import TokenCertificate
from agent.tokens.pin import PinProvider
from agent.tokens.service import KeySession, TokenService

if TYPE_CHECKING:
    from agent.remote.directory import RemoteCredential, RemoteDirectory
    from agent.remote.oauth import BrowserOpener
    from agent.signing.certstatus import CertStatus, StatusChecker
    from agent.signing.trust import Purpose

log = logging.getLogger(__name__)

# How long a remote listing counts as fresh (a token is read again at every request; a remote
# provider is a network round trip per credential).
REMOTE_REFRESH_SECONDS = 30.0


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
        # (module, serial) for a token; ("remote", provider, credential) for a remote key.
        self._gates: dict[tuple[str, ...], _Gate] = {}

    def depth(self, token_key: tuple[str, ...]) -> int:
        """Operations running or waiting on this token."""
        gate = self._gates.get(token_key)
        return 0 if gate is None else gate.waiting + int(gate.lock.locked())

    @contextlib.asynccontextmanager
    async def turn(self, token_key: tuple[str, ...]) -> AsyncIterator[None]:
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
            # The logged-in session cannot be reused: log out, the next call logs in anew.
            if exc.is_(ErrorGroup.TOKEN_GONE, ErrorGroup.TOKEN_FAULT, ErrorGroup.PIN):
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

    def set_pin_cache(self, enabled: bool) -> None:
        """Turn PIN caching on or off while running (the tray's setting; on the event loop).
        Off logs out of every cached session at once, so the next signature asks the PIN."""
        self._cache = replace(self._cache, enabled=enabled)
        if not enabled and self._keys:
            task = asyncio.get_running_loop().create_task(self.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Log out of every cached session (agent shutdown)."""
        for token_key in list(self._keys):
            await self._close(token_key)


class CertificateDirectory:
    """The certificates on present tokens and the configured providers' remote credentials,
    read once and refreshed on hot-plug or a miss."""

    def __init__(
        self,
        tokens: TokenService,
        status: StatusChecker | None = None,
        *,
        remote_providers: tuple[Mapping[str, Any], ...] = (),
        browser: BrowserOpener | None = None,
    ) -> None:
        self._tokens = tokens
        self._certs: list[TokenCertificate] | None = None
        self._lock = asyncio.Lock()
        self._status = status  # made on first use: its cache lives under the state root
        self._remote_tables = remote_providers
        self._browser = browser
        self._remote: RemoteDirectory | None = None
        self._remote_certs: list[RemoteCredential] | None = None
        self._remote_listed = 0.0  # monotonic time of the last remote listing
        # Apart from the tokens' lock: a slow provider never holds up listing the tokens.
        self._remote_lock = asyncio.Lock()

    @property
    def remote(self) -> RemoteDirectory | None:
        """The remote providers (None when none is configured). Made at first use, inside the
        event loop (it opens an aiohttp session), and only when configured: an agent without
        remote signing never loads agent.remote."""
        if self._remote is None and self._remote_tables:
            from agent.remote.directory import RemoteDirectory
            from agent.remote.providers import providers_from

            self._remote = RemoteDirectory.from_providers(
                providers_from(self._remote_tables), browser=self._browser
            )
        return self._remote

    def invalidate(self) -> None:
        """Forget the list (a token came or went)."""
        self._certs = None
        self._remote_certs = None

    async def token_certificates(self, *, fresh: bool = False) -> list[TokenCertificate]:
        """Every certificate on the present tokens; ``fresh`` reads the tokens again."""
        async with self._lock:
            if fresh or self._certs is None:
                self._certs = await self._tokens.list_certificates()
            return list(self._certs)

    async def remote_credentials(
        self, *, fresh: bool = False, interactive: bool = False
    ) -> list[RemoteCredential]:
        """Every configured provider's credentials. ``interactive`` may open the browser for a
        provider that needs the user to sign in; listing for a page never does. ``fresh``
        lists again only when the last listing is older than REMOTE_REFRESH_SECONDS: a page
        calling certificates.list in a loop must not make the agent hammer the provider."""
        remote = self.remote
        if remote is None:
            return []
        async with self._remote_lock:
            stale = time.monotonic() - self._remote_listed >= REMOTE_REFRESH_SECONDS
            if interactive or self._remote_certs is None or (fresh and stale):
                self._remote_certs = await remote.list_credentials(interactive=interactive)
                self._remote_listed = time.monotonic()
            return list(self._remote_certs)

    async def all(self, *, fresh: bool = False) -> list[TokenCertificate | RemoteCredential]:
        """Token certificates, then remote credentials; ``fresh`` reads both again."""
        tokens, remote = await asyncio.gather(
            self.token_certificates(fresh=fresh), self.remote_credentials(fresh=fresh)
        )
        return [*tokens, *remote]

    async def find(self, thumbprint: str) -> TokenCertificate | RemoteCredential:
        """The certificate with this thumbprint, on a token or remote; reads again before
        giving up. Only then, for a page that named a remote certificate, a provider that
        needs the user to sign in is asked to (the browser opens at the provider's page)."""
        wanted = thumbprint.replace(":", "").lower()
        for fresh in (False, True):
            for cert in await self.all(fresh=fresh):
                if cert.thumbprint == wanted:
                    return cert
        if self.remote is not None and any(not s.ok for s in self.remote.statuses.values()):
            for credential in await self.remote_credentials(interactive=True):
                if credential.thumbprint == wanted:
                    return credential
        raise KysoError("CERT_NOT_FOUND", {"thumbprint": wanted})

    async def check_status(
        self, cert: TokenCertificate | RemoteCredential, purpose: Purpose
    ) -> CertStatus:
        """Before any prompt: refuse a certificate that is expired, not yet valid, not for
        ``purpose`` or revoked (its code); otherwise its revocation status, good or unknown
        (at most 3 s of network; unknown is shown in the consent, not a block)."""
        # Imported at first use: revocation checking (pyhanko-certvalidator) is not needed
        # until a page asks to sign, so an idle agent does not load it (bench/footprint.py).
        from agent.signing.certstatus import StatusChecker, check_before_signing

        if self._status is None:
            self._status = StatusChecker()
        # CA certificates on the tokens are the likeliest issuers (no download needed); a
        # remote credential comes with its chain.
        issuers = [c.info.der for c in await self.token_certificates() if c.info.is_ca]
        if not isinstance(cert, TokenCertificate):
            issuers += list(cert.details.chain)
        status = await check_before_signing(self._status, cert.info.der, purpose, issuers)
        if status.status == "unknown":
            log.warning("revocation status of %s unknown: %s", cert.thumbprint[:16], status.reason)
        return status

    async def close(self) -> None:
        """Close the remote providers' sessions (agent shutdown)."""
        if self._remote is not None:
            await self._remote.close()
