"""What a command can reach: the services the agent was built with and the caller's identity."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agent.config.settings import Settings
from agent.errors import KysoError
from agent.server.approvals import ApprovalStore
from agent.server.audit import AuditLog
from agent.server.consent_guard import ConsentGuard
from agent.server.operations import CertificateDirectory, PendingLimiter, RemoteTurns
from agent.tokens.model import TokenCertificate
from agent.tokens.pin import PinRequest
from agent.tokens.service import LoginCache, TokenService
from agent.ui.api import Prompter

if TYPE_CHECKING:
    from agent.remote.directory import RemoteCredential
    from agent.remote.oauth import BrowserOpener

T = TypeVar("T")


@dataclass
class Services:
    """The agent's collaborators, built by the runner (or a test)."""

    tokens: TokenService
    prompter: Prompter
    approvals: ApprovalStore
    audit: AuditLog
    # Set by the tray's "pause signing": signing methods are refused with SIGNING_PAUSED
    # (read by the dispatcher; a plain bool is enough, one writer, read on the event loop).
    signing_paused: bool = False
    # Opens the user's browser for a remote provider's sign-in (OAuth2); chosen by the CLI.
    browser: BrowserOpener | None = None


class AgentCore:
    """Shared state of one running agent: settings, services and the operation bookkeeping."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self.stopping = False  # set when the agent shuts down: cancelled requests say why
        self.limiter = PendingLimiter(settings.max_pending_per_origin)
        # A token's turns (and their BUSY bound) are its own lock's, asked through
        # TokenService.reserve; remote credentials take turns here.
        self.remote_turns = RemoteTurns(settings.max_queue)
        # The PIN cache: logins parked on the tokens' locks between operations.
        self.keys = LoginCache(settings.pin_cache.idle_seconds, enabled=settings.pin_cache.enabled)
        self.certs = CertificateDirectory(
            services.tokens,
            remote_providers=settings.remote_providers,
            browser=services.browser,
        )
        self.port: int = 0
        self.ping_port: int | None = None  # the plain-http ping, when it is being served
        self.started = time.monotonic()
        # Denied origins are not asked again this run. Origins allowed "once" live in the
        # approval store (``allow_once``), so a revoke from the tray or the CLI ends them too.
        self.denied_origins: set[str] = set()
        # Origins whose consent windows the user kept refusing: not asked again for a while.
        self.consent_guard = ConsentGuard()

    @property
    def session_origins(self) -> frozenset[str]:
        """This run's "once" answers (not yet revoked)."""
        return self.services.approvals.session_origins

    def allowed_origins(self) -> set[str]:
        """Policy/config origins, then the user's approvals, then this run's "once" answers."""
        allowed = set(self.settings.allowed_origins)
        if self.settings.allow_user_origins:
            allowed.update(self.services.approvals.origins)
            allowed.update(self.services.approvals.session_origins)
        return allowed

    def origin_allowed(self, origin: str) -> bool:
        """True while ``origin`` may use the agent (checked again on every message: a site
        revoked after its handshake is refused at once)."""
        if origin in self.settings.allowed_origins:
            return True
        if not self.settings.allow_user_origins:
            return False
        approvals = self.services.approvals
        return origin in approvals or origin in approvals.session_origins

    def pin_scope(self, origin: str) -> str:
        """The PIN cache's scope for a page: its origin, and the answer that lets it in now (the
        policy, or the user's pairing with its time). A site revoked and paired again is a new
        scope, so a login kept from before the revocation is logged out, and the PIN asked."""
        if not self.keys.enabled:
            return origin  # nothing is kept: no need to look the pairing up
        if origin in self.settings.allowed_origins:
            return f"{origin} policy"
        return f"{origin} {self.services.approvals.pairing(origin)}"

    async def ask(self, awaitable: Awaitable[T]) -> T:
        """Wait for the user, at most ``prompt_timeout_seconds`` (then USER_TIMEOUT)."""
        # asyncio.timeout, not wait_for: no extra task per question (this is on every signature).
        try:
            async with asyncio.timeout(self.settings.prompt_timeout_seconds):
                return await awaitable
        except TimeoutError:
            raise KysoError("USER_TIMEOUT") from None


class TimedPins:
    """The prompter as the token layer's PinProvider, with the prompt timeout applied."""

    def __init__(self, core: AgentCore) -> None:
        self._core = core

    async def get_pin(self, request: PinRequest) -> str | None:
        """Ask the user for the PIN in the agent's own window."""
        return await self._core.ask(self._core.services.prompter.get_pin(request))

    async def show_pin_pad(self, request: PinRequest) -> None:
        """The PIN-pad window while the reader waits (agent.tokens.pinpad), timed like a prompt."""
        await self._core.ask(self._core.services.prompter.show_pin_pad(request))


@dataclass
class CallContext:
    """One request: who sent it and how to talk back."""

    core: AgentCore
    origin: str
    connection_id: int
    request_id: str | int
    notify: Callable[[str, dict[str, Any]], Awaitable[None]]
    # Why the request is being cancelled, asked when it is (PAGE_CLOSED, AGENT_STOPPING,
    # ORIGIN_NOT_ALLOWED): a batch records the item the token had with that code.
    cancelled_because: Callable[[], str] = field(default=lambda: "PAGE_CLOSED")
    # Filled in while signing, for the audit line the dispatcher writes.
    thumbprint: str | None = None
    # subject, serial, token (or remote provider) for the audit line
    certificate: TokenCertificate | RemoteCredential | None = None
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
