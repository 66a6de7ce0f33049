"""Who signs when: per-origin limits, remote credentials' turns and certificate lookup.

- One signing operation at a time per token; up to ``max_queue`` more wait their turn, the
  next one is told BUSY at once (never a silent pile-up). For a token that is the token's own
  lock, asked through ``TokenService.reserve`` (it also holds the PIN cache's login); a remote
  credential takes turns on the same kind of lock, kept here.
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
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agent.errors import KysoError
from agent.tokens.model import TokenCertificate
from agent.tokens.service import TokenService
from agent.tokens.token_lock import TokenLock

if TYPE_CHECKING:
    from agent.remote.directory import RemoteCredential, RemoteDirectory
    from agent.remote.oauth import BrowserOpener
    from agent.signing.certstatus import CertStatus, StatusChecker
    from agent.signing.revinfo import Status
    from agent.signing.trust import Purpose

log = logging.getLogger(__name__)

# How long a remote listing counts as fresh (a token is read again at every request; a remote
# provider is a network round trip per credential).
REMOTE_REFRESH_SECONDS = 30.0
# How long the picker, or a page naming a certificate found on a token, waits for the remote
# providers' listing: a slow or dead provider must not hold up a USB token by its whole timeout.
REMOTE_BUDGET_SECONDS = 2.0


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


class RemoteTurns:
    """One operation at a time per remote credential, a bounded number waiting: the same fair,
    bounded lock a token has (:class:`~agent.tokens.token_lock.TokenLock`)."""

    def __init__(self, max_queue: int) -> None:
        self._max_queue = max_queue
        self._locks: dict[tuple[str, ...], TokenLock] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: tuple[str, ...]) -> AsyncIterator[None]:
        """Wait for this credential's turn, or raise BUSY when the queue is full."""
        lock = self._locks.setdefault(key, TokenLock())
        await lock.acquire(max_waiting=self._max_queue)
        try:
            yield
        finally:
            lock.release()


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
        remote_budget: float = REMOTE_BUDGET_SECONDS,
    ) -> None:
        self._tokens = tokens
        self._certs: list[TokenCertificate] | None = None
        self._lock = asyncio.Lock()
        self._status = status  # made on first use: its cache lives under the state root
        # The last "revocation status unknown" logged, per thumbprint (see check_status).
        self._unknown_said: dict[str, str] = {}
        self._remote_tables = remote_providers
        self._browser = browser
        self._remote: RemoteDirectory | None = None
        self._remote_certs: list[RemoteCredential] | None = None
        self._remote_listed = 0.0  # monotonic time of the last remote listing
        # Apart from the tokens' lock: a slow provider never holds up listing the tokens.
        self._remote_lock = asyncio.Lock()
        self.remote_budget = remote_budget
        # The remote listing under way, shared by every caller (one waits for it at most its
        # budget; it goes on and fills the cache); invalidate() starts a new generation.
        self._remote_task: asyncio.Task[list[RemoteCredential]] | None = None
        self._remote_generation = 0
        self._remote_tasks: set[asyncio.Task[list[RemoteCredential]]] = set()
        self._remote_fault_said = ""  # the last unexpected remote failure logged (its type)

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
        self._remote_task = None  # a listing under way may predate the change: not joined
        self._remote_generation += 1

    async def token_certificates(self, *, fresh: bool = False) -> list[TokenCertificate]:
        """Every certificate on the present tokens; ``fresh`` reads the tokens again."""
        async with self._lock:
            if fresh or self._certs is None:
                self._certs = await self._tokens.list_certificates()
            return list(self._certs)

    async def remote_credentials(
        self, *, fresh: bool = False, interactive: bool = False, budget: float | None = None
    ) -> list[RemoteCredential]:
        """Every configured provider's credentials. ``interactive`` may open the browser for a
        provider that needs the user to sign in; listing for a page never does. ``fresh``
        lists again only when the last listing is older than REMOTE_REFRESH_SECONDS: a page
        calling certificates.list in a loop must not make the agent hammer the provider.
        ``budget``: wait at most this long for a listing under way, then answer with what is
        known (each provider's last answer); the listing goes on and fills the cache."""
        try:
            remote = self.remote
            if remote is None:
                return []
            if interactive:
                async with self._remote_lock:
                    self._remote_certs = await self._listed(remote, interactive=True)
                    self._remote_listed = time.monotonic()
                    return list(self._remote_certs)
            task = self._remote_listing(remote, fresh)
            if task is None:
                return list(self._remote_certs or ())
            if budget is None:
                return list(await asyncio.shield(task))
            done, _ = await asyncio.wait({task}, timeout=budget)
            return list(task.result()) if done else remote.known_credentials()
        except Exception as exc:  # the tokens' signing and listing never fail for a provider
            self._remote_fault(exc)
            return list(self._remote_certs or ())

    async def _listed(
        self, remote: RemoteDirectory, *, interactive: bool
    ) -> list[RemoteCredential]:
        """The providers' listing. RemoteDirectory records each provider's failure itself;
        anything else from the remote side is logged once and answered with what is known."""
        try:
            return await remote.list_credentials(interactive=interactive)
        except Exception as exc:
            self._remote_fault(exc)
            return remote.known_credentials()

    def _remote_fault(self, exc: Exception) -> None:
        # Once per kind of failure: a listing is asked for at every signature.
        kind = type(exc).__name__
        if kind != self._remote_fault_said:
            self._remote_fault_said = kind
            log.error("remote listing failed", exc_info=exc)
        else:
            log.debug("remote listing failed again: %s", kind)

    def _remote_listing(
        self, remote: RemoteDirectory, fresh: bool
    ) -> asyncio.Task[list[RemoteCredential]] | None:
        """The listing to wait for: None when the cached one will do, else the one under way
        or a new one."""
        if self._remote_task is not None:
            return self._remote_task
        stale = time.monotonic() - self._remote_listed >= REMOTE_REFRESH_SECONDS
        if self._remote_certs is not None and not (fresh and stale):
            return None
        task = asyncio.create_task(self._list_remote(remote, self._remote_generation))
        self._remote_task = task
        self._remote_tasks.add(task)
        task.add_done_callback(self._remote_done)
        return task

    async def _list_remote(
        self, remote: RemoteDirectory, generation: int
    ) -> list[RemoteCredential]:
        try:
            found = await self._listed(remote, interactive=False)
        finally:
            if generation == self._remote_generation:
                self._remote_task = None
        if generation == self._remote_generation:  # not from before an invalidate()
            self._remote_certs = found
            self._remote_listed = time.monotonic()
        return found

    def _remote_done(self, task: asyncio.Task[list[RemoteCredential]]) -> None:
        self._remote_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # nobody may be waiting
            log.warning("remote listing failed", exc_info=task.exception())

    def remote_missing(self) -> list[tuple[str, str]]:
        """(display name, "loading" | "unreachable") of the providers whose credentials are
        missing from what :meth:`remote_credentials` answered within its budget."""
        remote = self._remote
        if remote is None:
            return []
        return [(provider.label, state) for provider, state in remote.missing()]

    async def all(
        self, *, fresh: bool = False, remote_budget: float | None = None
    ) -> list[TokenCertificate | RemoteCredential]:
        """Token certificates, then remote credentials; ``fresh`` reads both again;
        ``remote_budget``: how long to wait for the providers (None: until they answer)."""
        if self.remote is None:
            # No provider configured: nothing to overlap with the tokens' listing, so no gather
            # (its two tasks and their wake-ups were event-loop turns on every signature).
            return [*await self.token_certificates(fresh=fresh)]
        tokens, remote = await asyncio.gather(
            self.token_certificates(fresh=fresh),
            self.remote_credentials(fresh=fresh, budget=remote_budget),
        )
        return [*tokens, *remote]

    async def matching(self, thumbprint: str) -> list[TokenCertificate | RemoteCredential]:
        """Every copy of the certificate with this thumbprint (one certificate may be on two
        tokens, or on a token and at a provider), the tokens' first.

        The tokens are read first (cached, then again). A token hit waits for the remote
        providers at most ``remote_budget`` (a copy at a provider known by then is returned
        too, so the caller can ask which one); only a miss on every token waits for the
        providers' listing. Never signs in to a provider: a thumbprint is the page's word, and
        a page must not open the browser (or hold the remote listing for minutes) without the
        user choosing to; the picker's "Sign in to <provider>" row is where the user does that."""
        wanted = thumbprint.replace(":", "").lower()
        on_tokens = await self._on_tokens(wanted, fresh=False)
        if not on_tokens and self._remote_certs is not None:
            # A credential the last remote listing has (and no token): no token read needed.
            known = [c for c in self._remote_certs if c.thumbprint == wanted]
            if known:
                return [*known]
        on_tokens = on_tokens or await self._on_tokens(wanted, fresh=True)
        if on_tokens:
            if not self._remote_tables:
                return on_tokens
            remote = await self.remote_credentials(budget=self.remote_budget)
            return [*on_tokens, *(c for c in remote if c.thumbprint == wanted)]
        for fresh in (False, True):
            found = [
                c for c in await self.remote_credentials(fresh=fresh) if c.thumbprint == wanted
            ]
            if found:
                return list(found)
        raise KysoError("CERT_NOT_FOUND", {"thumbprint": wanted})

    async def _on_tokens(
        self, wanted: str, *, fresh: bool
    ) -> list[TokenCertificate | RemoteCredential]:
        return [c for c in await self.token_certificates(fresh=fresh) if c.thumbprint == wanted]

    async def statuses_among(
        self, certs: Iterable[TokenCertificate | RemoteCredential]
    ) -> dict[str, Status]:
        """The revocation status ("good", "revoked" or "unknown") of each of ``certs`` by
        thumbprint (cached answers, else fetched, all at once within the checker's time cap):
        the picker greys a revoked one instead of offering, or preselecting, a certificate that
        will be refused after the user chose it, and prefers one whose status is known."""
        from agent.signing.certstatus import StatusChecker

        if self._status is None:
            self._status = StatusChecker()
        checker = self._status
        wanted = list(certs)
        if not wanted:
            return {}
        cas = [c.info.der for c in await self.token_certificates() if c.info.is_ca]

        async def status(cert: TokenCertificate | RemoteCredential) -> Status:
            chain = [] if isinstance(cert, TokenCertificate) else list(cert.details.chain)
            return (await checker.status(cert.info.der, [*cas, *chain])).status

        answers = await asyncio.gather(*(status(c) for c in wanted))
        return {c.thumbprint: answer for c, answer in zip(wanted, answers, strict=True)}

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
            # Said once per certificate and reason: the checker remembers an unknown answer for
            # a while, and a line per signature would only repeat it (and cost every request).
            if self._unknown_said.get(cert.thumbprint) != status.reason:
                self._unknown_said[cert.thumbprint] = status.reason
                log.warning(
                    "revocation status of %s unknown: %s", cert.thumbprint[:16], status.reason
                )
            elif log.isEnabledFor(logging.DEBUG):  # not even the slice when not shown
                log.debug("revocation status of %s still unknown", cert.thumbprint[:16])
        else:
            self._unknown_said.pop(cert.thumbprint, None)
        return status

    async def close(self) -> None:
        """Close the remote providers' sessions (agent shutdown)."""
        for task in list(self._remote_tasks):
            task.cancel()
        if self._remote is not None:
            await self._remote.close()
