"""The asyncio-facing token layer: every module, every token, hot-plug events, key sessions.

Callers never see python-pkcs11. They list tokens and certificates, then open a key by
certificate thumbprint: the PIN is asked through a :class:`PinProvider` (again after a wrong PIN,
with the token's tries-left state), and signatures are made until the ``async with`` block ends,
when the token is logged out. One key session per token at a time; others wait their turn.
The agent reserves the token's turn before its consent (:meth:`TokenService.reserve`, with its
BUSY bound) and opens the key inside it, possibly reusing a login its PIN cache parked
(:mod:`agent.tokens.turns`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agent.errors import KysoError
from agent.tokens.model import SessionHandle, TokenCertificate, TokenInfo
from agent.tokens.modules import ModuleCandidate
from agent.tokens.pin import PinProvider, PinRequest, PinState
from agent.tokens.pinpad import login_on_pin_pad
from agent.tokens.turns import KeySession, LoginCache, TokenTurn

if TYPE_CHECKING:
    from agent.tokens.module import Pkcs11Module

__all__ = ["KeySession", "LoginCache", "ModuleStatus", "TokenEvent", "TokenService", "TokenTurn"]

log = logging.getLogger(__name__)

# Prompts for one operation at most: a token normally locks itself sooner, but SoftHSM2 and some
# tokens never do, and a buggy provider must not try PINs for ever.
MAX_PIN_ATTEMPTS = 5
# Refusals after which the user may type the PIN again (PIN_INVALID: wrong length or characters,
# which costs no try on most tokens).
_RETRY_PIN = frozenset({"PIN_INCORRECT", "PIN_FINAL_TRY", "PIN_INVALID"})


@dataclass(frozen=True)
class ModuleStatus:
    """What happened when a module was loaded: for ``doctor`` and ``agent.info``."""

    path: str
    vendor: str
    source: str
    loaded: bool
    description: str = ""
    error: dict[str, object] | None = None


@dataclass(frozen=True)
class TokenEvent:
    """A token was inserted or removed."""

    kind: Literal["inserted", "removed"]
    token: TokenInfo


class TokenService:
    """All configured PKCS#11 modules behind one async API."""

    def __init__(self, candidates: list[ModuleCandidate], *, poll_interval: float = 1.0) -> None:
        self._candidates = candidates
        self._modules: list[Pkcs11Module] = []
        self.statuses: list[ModuleStatus] = []
        self._poll_interval = poll_interval
        self._subscribers: set[asyncio.Queue[TokenEvent]] = set()
        self._known: dict[tuple[str, str], TokenInfo] = {}
        self._monitor: asyncio.Task[None] | None = None
        self._monitor_wanted = False
        self._load_task: asyncio.Task[None] | None = None
        self._closed = False

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self, *, monitor: bool = True, deferred: bool = False) -> None:
        """Load every candidate module (a module that fails is reported and skipped), then
        watch for hot-plug unless ``monitor`` is False. ``deferred``: load nothing now; the
        modules load at the first call that needs them, or at :meth:`load_soon`. An idle agent
        thus holds no PKCS#11 library (what each costs: bench/footprint.py)."""
        self._monitor_wanted = monitor
        if self._closed:  # started again after close: load afresh
            if self._load_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._load_task)
            self._closed, self._load_task = False, None
        if not deferred:
            await self._ready()

    def load_soon(self) -> None:
        """Start loading the modules in the background (a page connected: it may ask soon)."""
        self._loading()

    @property
    def loaded(self) -> bool:
        """True once the modules were loaded (each one may still have failed: see statuses)."""
        return self._load_task is not None and self._load_task.done()

    def _loading(self) -> asyncio.Task[None]:
        if self._load_task is None:
            self._load_task = asyncio.create_task(self._load(), name="kyso-token-load")
        return self._load_task

    async def _ready(self) -> None:
        """Wait until the modules are loaded (loading them if nobody has yet). Shielded: a
        caller that gives up does not cancel the load others wait for."""
        await asyncio.shield(self._loading())

    async def _load(self) -> None:
        from agent.tokens.module import Pkcs11Module

        if self._closed:  # a page connecting while the agent stops: nothing to load for
            return
        self.statuses = []
        for candidate in self._candidates:
            if self._closed:  # closing: load no more (close releases what was loaded)
                break
            try:
                module = await Pkcs11Module.acquire(candidate)
            except Exception as raw:  # whatever it was, this module fails, not every later call
                exc = (
                    raw
                    if isinstance(raw, KysoError)
                    else KysoError(
                        "MODULE_LOAD_FAILED",
                        {"module": candidate.path, "detail": f"{type(raw).__name__}: {raw}"},
                    )
                )
                log.warning("PKCS#11 module %s not loaded: %s", candidate.path, exc)
                self.statuses.append(
                    ModuleStatus(
                        candidate.path,
                        candidate.vendor,
                        candidate.source,
                        False,
                        error=exc.to_dict(),
                    )
                )
                continue
            self._modules.append(module)
            self.statuses.append(
                ModuleStatus(
                    candidate.path, candidate.vendor, candidate.source, True, module.description
                )
            )
        tokens, _failed = await self._scan_all()
        self._known = {t.key: t for t in tokens}
        if self._monitor_wanted:
            self._monitor = asyncio.create_task(self._watch(), name="kyso-token-monitor")

    async def close(self) -> None:
        """Stop watching and finalise every module."""
        self._closed = True
        if self._load_task is not None and not self._load_task.done():
            # Let a load under way finish: a module acquired and then dropped would stay loaded.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._load_task)
        if self._monitor:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        for module in self._modules:
            await module.release()
        self._modules.clear()

    async def __aenter__(self) -> TokenService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- listing -----------------------------------------------------------------------------
    async def list_tokens(self) -> list[TokenInfo]:
        """Tokens present now, over all modules. Modules are asked concurrently, so a module
        busy with a slow token does not hold up the others."""
        await self._ready()
        tokens, _failed = await self._scan_all()
        return tokens

    async def _scan_all(self, *, rediscover: bool = False) -> tuple[list[TokenInfo], set[str]]:
        """Tokens present now, and the paths of the modules whose scan failed."""
        results = await asyncio.gather(
            *(m.scan(rediscover=rediscover) for m in self._modules), return_exceptions=True
        )
        tokens: list[TokenInfo] = []
        failed: set[str] = set()
        for module, result in zip(self._modules, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("scanning %s failed: %r", module.path, result)
                failed.add(module.path)
                continue
            tokens.extend(result)
        return tokens, failed

    async def list_certificates(self) -> list[TokenCertificate]:
        """Certificates on every present token."""
        tokens = await self.list_tokens()
        by_module = {m.path: m for m in self._modules}
        results = await asyncio.gather(
            *(by_module[t.module].certificates(t) for t in tokens), return_exceptions=True
        )
        certs: list[TokenCertificate] = []
        for token, result in zip(tokens, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("reading certificates of %s failed: %r", token.label, result)
                continue
            certs.extend(result)
        return certs

    async def find_certificate(self, thumbprint: str) -> TokenCertificate:
        """The certificate with this SHA-256 thumbprint (hex, any case, ':' allowed)."""
        wanted = thumbprint.replace(":", "").lower()
        for cert in await self.list_certificates():
            if cert.thumbprint == wanted:
                return cert
        raise KysoError("CERT_NOT_FOUND", {"thumbprint": wanted})

    def unreadable_certificates(self, token: TokenInfo) -> tuple[str, ...]:
        """Why the last listing of ``token`` skipped certificate objects it could not read
        (one reason each, e.g. an unknown key algorithm; empty when it read them all). For
        ``doctor``: the token's other certificates are listed all the same."""
        for module in self._modules:
            if module.path == token.module:
                return module.unreadable(token)
        return ()

    def module_for(self, token: TokenInfo) -> Pkcs11Module:
        """The loaded module that holds ``token``."""
        for module in self._modules:
            if module.path == token.module:
                return module
        raise KysoError("TOKEN_REMOVED", {"detail": token.label})

    # ---- keys --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def open_key(
        self, cert: TokenCertificate | str, pin_provider: PinProvider
    ) -> AsyncIterator[KeySession]:
        """Log in to the token holding ``cert`` (a certificate or its thumbprint) and yield a
        :class:`KeySession`. A wrong PIN is asked again within this call (see _login_asking)."""
        if isinstance(cert, str):
            cert = await self.find_certificate(cert)
        async with self.reserve(cert) as turn, turn.key(pin_provider) as key:
            yield key

    @contextlib.asynccontextmanager
    async def reserve(
        self, cert: TokenCertificate, *, max_waiting: int | None = None
    ) -> AsyncIterator[TokenTurn]:
        """Wait for the turn on the token holding ``cert``, first come first served; with
        ``max_waiting``, refuse with BUSY at once when that many callers already wait. The
        key is opened inside the turn (:meth:`TokenTurn.key`), so a caller may ask the user
        something first while others wait.

        Refused here, before any prompt, when the listing is sure the key is missing or may
        not sign; a key the token hides until login (:attr:`TokenCertificate.key_hidden`) is
        looked for after the PIN."""
        if not cert.has_private_key:
            raise KysoError("KEY_NOT_FOUND", {"detail": cert.info.subject_display})
        if cert.key_cannot_sign:
            from agent.tokens.keymatch import cannot_sign

            raise cannot_sign(cert)
        module = self.module_for(cert.token)
        lock = module.token_lock(cert.token.key)
        task = asyncio.current_task()
        if task is not None and lock.owner is task:
            # The same task asking twice would wait for itself forever: fail loudly instead.
            raise RuntimeError(
                f"this task already has a key session open on {cert.token.label!r}; "
                "sign with that session instead of opening a second one"
            )
        # The lock lives on the shared module, so every TokenService in the process (and so
        # every login, which PKCS#11 keeps per token per process) takes its turn.
        await lock.acquire(max_waiting=max_waiting)
        lock.owner = task
        try:
            yield TokenTurn(module, lock, cert, self._login)
        finally:
            if lock.login is not None:  # a PIN cache's login: its idle time runs from now
                lock.login.owner.arm(lock)
            lock.release()

    async def _login(
        self, module: Pkcs11Module, cert: TokenCertificate, pin_provider: PinProvider
    ) -> SessionHandle:
        """Ask the PIN (unless locked, PIN pad or no login) and log in."""
        token = cert.token
        if token.login_required and not token.protected_path:
            handle = await self._login_asking(module, cert, pin_provider)
        elif token.login_required:  # PIN pad: the reader asks; the agent's window says so
            handle = await login_on_pin_pad(module, cert, pin_provider)
        else:
            handle = await module.open_session(cert, None)
        return handle

    async def _login_asking(
        self, module: Pkcs11Module, cert: TokenCertificate, pin_provider: PinProvider
    ) -> SessionHandle:
        """Ask the PIN and log in; after a wrong PIN ask again, like a card reader's dialog.

        Each new prompt carries the refusal and the token's flags read after it (tries used,
        final try), so the user retries within the same operation instead of starting over.
        Ends when the PIN is right, the user cancels, the prompt times out, the token locks,
        or after :data:`MAX_PIN_ATTEMPTS` prompts.
        """
        token = cert.token
        previous: KysoError | None = None
        refused = ""
        for attempt in range(1, MAX_PIN_ATTEMPTS + 1):
            state = await module.pin_state(token)
            if state.locked:
                if previous is not None:
                    # Locked by the PIN just typed: the dialog says so before it goes away.
                    await self._tell_locked(pin_provider, cert, state)
                raise KysoError("PIN_LOCKED", {"detail": token.label, "pin_state": "locked"})
            request = PinRequest(
                token.label,
                token.serial,
                cert.info,
                state,
                previous_error=previous,
                attempt=attempt,
            )
            pin = await pin_provider.get_pin(request)
            if pin is None:
                raise KysoError("USER_CANCELLED")
            if previous is not None and hmac.compare_digest(pin.encode(), refused.encode()):
                # The token refused exactly this PIN a moment ago: sending it again would only
                # use up another try (an automated provider repeating itself, a double Enter).
                raise previous
            try:
                return await module.open_session(cert, pin)
            except KysoError as exc:
                if exc.code == "PIN_LOCKED":
                    await self._tell_locked(pin_provider, cert, PinState(locked=True))
                if exc.code not in _RETRY_PIN:
                    raise
                log.info("wrong PIN for %s (attempt %d): %s", token.label, attempt, exc.code)
                previous, refused = exc, pin
        assert previous is not None
        raise previous

    @staticmethod
    async def _tell_locked(
        pin_provider: PinProvider, cert: TokenCertificate, state: PinState
    ) -> None:
        """Show the "PIN locked" notice in place of the PIN dialog (its only button closes it)."""
        token = cert.token
        locked = KysoError("PIN_LOCKED", {"detail": token.label, "pin_state": "locked"})
        request = PinRequest(token.label, token.serial, cert.info, state, previous_error=locked)
        with contextlib.suppress(KysoError):  # a provider that cannot show it, a timeout
            await pin_provider.get_pin(request)

    # ---- hot-plug ----------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[TokenEvent]:
        """A queue that receives every later insert/removal event."""
        queue: asyncio.Queue[TokenEvent] = asyncio.Queue(maxsize=256)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[TokenEvent]) -> None:
        """Stop delivering events to ``queue``."""
        self._subscribers.discard(queue)

    async def rescan(self) -> list[TokenEvent]:
        """Compare the tokens present now with the last scan and publish the differences.

        A removal is only reported when a second scan agrees: a module whose scan failed, or a
        slot that errored once (SoftHSM2 reading a file another process is writing), must not
        look like a pulled token to every connected page.
        """
        await self._ready()
        current = await self._current_with_failed_kept()
        if any(k not in current for k in self._known):
            second = await self._current_with_failed_kept()
            # Gone only when both scans miss it.
            current.update({k: second[k] for k in self._known if k not in current and k in second})
        events = [TokenEvent("removed", t) for k, t in self._known.items() if k not in current]
        events += [TokenEvent("inserted", t) for k, t in current.items() if k not in self._known]
        self._known = current
        for event in events:
            log.info("token %s: %s", event.kind, event.token.label)
            for queue in list(self._subscribers):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event)
        return events

    async def _current_with_failed_kept(self) -> dict[tuple[str, str], TokenInfo]:
        """Tokens present now; for a module whose scan failed, the tokens it had before."""
        tokens, failed = await self._scan_all(rediscover=True)
        current = {t.key: t for t in tokens}
        current.update({k: t for k, t in self._known.items() if t.module in failed})
        return current

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self.rescan()
            except Exception:  # a flaky module must not stop hot-plug for the others
                log.exception("token rescan failed")
