"""Remote credentials listed beside token certificates (``certs --json``, the picker, doctor).

Each configured provider gets one :class:`RemoteService` (its aiohttp session, its OAuth
state, its CSC client). Listing never opens a browser: a provider that needs the user to sign
in first is reported in :attr:`RemoteDirectory.statuses`, as a module that failed to load is
for tokens, and the others are listed all the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from agent.errors import KysoError
from agent.remote.csc import CredentialDetails, CscClient
from agent.remote.http import ByteBudget
from agent.remote.oauth import BrowserOpener, NoAuth, OAuthClient, ServiceAuth
from agent.remote.providers import RemoteProvider
from agent.tokens.certinfo import CertificateInfo

log = logging.getLogger(__name__)

# credentials/info calls in flight per provider: each answer may be up to 256 KB
# (agent/remote/http.py), and a listing of 100 credentials needs no more to finish in seconds.
INFO_CONCURRENCY = 4
# Answer bytes one provider's listing may read in all: 100 credentials with chains of about
# 40 KB each (a real chain is 3-5 KB of base64 per certificate).
LISTING_BUDGET_BYTES = 4 * 1024 * 1024


def _code(error: BaseException) -> str:
    """A failure's stable code for the log (an unexpected exception: its type)."""
    return error.code if isinstance(error, KysoError) else type(error).__name__


@dataclass(frozen=True)
class RemoteCredential:
    """One remote key with its certificate: what the picker shows beside token certificates."""

    provider: RemoteProvider
    details: CredentialDetails

    @property
    def info(self) -> CertificateInfo:
        """The credential's certificate, parsed like a token's."""
        return self.details.certificate

    @property
    def source(self) -> str:
        """``remote:<provider>`` (tokens say ``token:<label>``)."""
        return self.provider.source

    @property
    def credential_id(self) -> str:
        """The provider's id for this credential."""
        return self.details.credential_id

    @property
    def thumbprint(self) -> str:
        """The certificate's SHA-256 thumbprint (as for token certificates)."""
        return self.info.thumbprint

    @property
    def queue_key(self) -> tuple[str, str, str]:
        """One signing operation at a time per remote key, as per token."""
        return ("remote", self.provider.name, self.credential_id)

    @property
    def row_source(self) -> tuple[str, str, str]:
        """Where this key is, for the picker's row key (agent.ui.api.CertificateKey): the
        provider's handle and its credential id (another provider may list the same
        certificate; the user's row choice must reach this provider, not that one)."""
        return ("remote", self.provider.name, self.credential_id)

    def to_json(self) -> dict[str, Any]:
        """The certificate's JSON (as for tokens) plus where it lives and how it is unlocked."""
        data = self.info.to_json()
        problem = self.details.problem
        if problem and "REMOTE_DISABLED" not in data["problems"]:
            data["problems"].append("REMOTE_DISABLED")
        data.update(
            {
                "source": self.source,
                "provider": self.provider.name,
                "provider_label": self.provider.label,
                "credential_id": self.credential_id,
                "remote_status": problem or "enabled",
                "auth_mode": self.details.auth_mode,
                "needs_pin": self.details.need_pin,
                "needs_otp": self.details.need_otp,
                "multisign": self.details.multisign,
            }
        )
        return data


@dataclass
class ProviderStatus:
    """How the last listing went for one provider (doctor shows it)."""

    provider: str
    ok: bool
    credentials: int = 0
    error: dict[str, Any] | None = None


class RemoteService:
    """One provider's connection state. Close it when the agent stops."""

    def __init__(
        self,
        provider: RemoteProvider,
        *,
        session: aiohttp.ClientSession | None = None,
        browser: BrowserOpener | None = None,
    ) -> None:
        self.provider = provider
        self._own_session = session is None
        # No cookie jar: nothing a service sets outlives the process or crosses providers.
        # No session-wide time limit (aiohttp's default ends every call at 300 s): each call
        # has its own, the provider's timeout_seconds or approval_timeout_seconds (review 41).
        self.session = session or aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        )
        self.auth: ServiceAuth = (
            NoAuth()
            if provider.auth_flow == "none"
            else OAuthClient(provider, self.session, browser=browser)
        )
        self.client = CscClient(provider, self.session, self.auth)

    async def close(self) -> None:
        """Close the session this service opened."""
        if self._own_session:
            await self.session.close()


@dataclass
class RemoteDirectory:
    """Every configured provider's credentials."""

    services: Sequence[RemoteService]
    statuses: dict[str, ProviderStatus] = field(default_factory=dict)
    # Each provider's last answer (kept while it is listed again: the picker shows it and does
    # not wait for a slow provider), and the providers whose listing is under way.
    answers: dict[str, list[RemoteCredential]] = field(default_factory=dict)
    listing: set[str] = field(default_factory=set)

    @classmethod
    def from_providers(
        cls, providers: Sequence[RemoteProvider], *, browser: BrowserOpener | None = None
    ) -> RemoteDirectory:
        """One service per provider (call inside a running event loop)."""
        return cls([RemoteService(p, browser=browser) for p in providers])

    def service(self, provider_name: str) -> RemoteService:
        """The service for a provider handle; REMOTE_PROVIDER_UNKNOWN when not configured."""
        for service in self.services:
            if service.provider.name == provider_name:
                return service
        raise KysoError("REMOTE_PROVIDER_UNKNOWN", {"provider": provider_name})

    async def _list_one(self, service: RemoteService, interactive: bool) -> list[RemoteCredential]:
        name = service.provider.name
        self.listing.add(name)
        try:
            found = await self._ask_one(service, interactive)
        finally:
            self.listing.discard(name)
        self.answers[name] = found
        return found

    async def _ask_one(self, service: RemoteService, interactive: bool) -> list[RemoteCredential]:
        name = service.provider.name
        budget = ByteBudget(LISTING_BUDGET_BYTES)
        try:
            ids = await service.client.list_credentials(interactive=interactive, budget=budget)
            details = await self._details(service, ids, interactive, budget)
            if budget.overdrawn:  # the rest were not even asked: the provider's fault, whole
                raise budget.error(service.provider, "credentials/info")
        except KysoError as exc:
            log.warning("remote %s: listing failed: %s", name, exc.code)
            self.statuses[name] = ProviderStatus(name, False, error=exc.to_dict())
            return []
        except Exception as exc:  # one provider's failure, never the caller's
            # Nothing the service sends should get here (http.py turns every answer into a
            # stable code); if something does, it is this provider's failure, not the token's.
            log.warning("remote %s: listing failed", name, exc_info=True)
            error = KysoError(
                "REMOTE_PROTOCOL_ERROR",
                {"provider": service.provider.label, "detail": type(exc).__name__},
            )
            self.statuses[name] = ProviderStatus(name, False, error=error.to_dict())
            return []
        found = []
        traced = False
        for cid, item in zip(ids, details, strict=True):
            if isinstance(item, BaseException):
                unexpected = not isinstance(item, KysoError) and not traced
                traced = traced or unexpected
                # %r: the id is the service's text (1-200 characters of anything).
                log.warning(
                    "remote %s: credential %r: %s",
                    name,
                    cid,
                    _code(item),
                    exc_info=item if unexpected else None,
                )
            elif not item.certificate.is_ca:
                found.append(RemoteCredential(service.provider, item))
        self.statuses[name] = ProviderStatus(name, True, credentials=len(found))
        return found

    @staticmethod
    async def _details(
        service: RemoteService, ids: list[str], interactive: bool, budget: ByteBudget
    ) -> list[CredentialDetails | BaseException]:
        """credentials/info for each id, INFO_CONCURRENCY at a time (one answer in flight per
        slot, however many credentials the service lists); a failure is that id's entry."""
        slots = asyncio.Semaphore(INFO_CONCURRENCY)

        async def one(cid: str) -> CredentialDetails:
            async with slots:
                return await service.client.credential_info(
                    cid, interactive=interactive, budget=budget
                )

        found = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
        for item in found:
            if isinstance(item, BaseException) and not isinstance(item, Exception):
                raise item  # cancelled (the agent stops): not a credential's failure
        return found

    async def list_credentials(self, *, interactive: bool = False) -> list[RemoteCredential]:
        """All credentials of all providers; a failing provider is skipped and recorded."""
        per = await asyncio.gather(*(self._list_one(s, interactive) for s in self.services))
        return [c for group in per for c in group]

    def known_credentials(self) -> list[RemoteCredential]:
        """What is known now, without waiting: each provider's last answer (a provider being
        listed again keeps its previous one; one never answered has none)."""
        return [c for s in self.services for c in self.answers.get(s.provider.name, [])]

    def missing(self) -> list[tuple[RemoteProvider, str]]:
        """Providers whose credentials the picker cannot show, with why: "loading" (listing
        under way) or "unreachable" (the last listing failed, other than for want of a
        sign-in, which has its own row)."""
        waiting = {p.name for p in self.awaiting_sign_in()}
        out = []
        for service in self.services:
            name = service.provider.name
            status = self.statuses.get(name)
            if name in self.listing and name not in self.answers:  # nothing to show yet
                out.append((service.provider, "loading"))
            elif status is not None and not status.ok and name not in waiting:
                out.append((service.provider, "unreachable"))
        return out

    def awaiting_sign_in(self) -> list[RemoteProvider]:
        """Providers whose user must sign in in the browser before their credentials can be
        listed (authorization code flow; the last listing was refused for want of a sign-in).
        The picker offers "Sign in to <provider>" for each."""
        out = []
        for service in self.services:
            status = self.statuses.get(service.provider.name)
            if (
                service.provider.auth_flow == "authorization_code"
                and isinstance(service.auth, OAuthClient)
                and service.auth.browser is not None  # headless: no page to sign in on
                and status is not None
                and not status.ok
                and (status.error or {}).get("code") == "REMOTE_AUTH_REFUSED"
            ):
                out.append(service.provider)
        return out

    async def sign_in(self, provider_name: str) -> None:
        """The user chose "Sign in to <provider>": open the provider's sign-in page in the
        browser (authorization code + PKCE, state checked, loopback redirect) and keep the
        access token. Raises the stable error when the sign-in is refused or times out."""
        service = self.service(provider_name)
        await service.auth.bearer(interactive=True)
        self.statuses.pop(provider_name, None)  # listed again by the caller

    async def find(self, thumbprint: str, *, interactive: bool = True) -> RemoteCredential:
        """The credential whose certificate has this SHA-256 thumbprint; CERT_NOT_FOUND."""
        for credential in await self.list_credentials(interactive=interactive):
            if credential.info.thumbprint == thumbprint.lower():
                return credential
        raise KysoError("CERT_NOT_FOUND", {"thumbprint": thumbprint})

    async def close(self) -> None:
        """Close every provider's session."""
        for service in self.services:
            await service.close()
