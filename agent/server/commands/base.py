"""The shape every protocol method shares, and the signing pipeline (Web eID's command idea).

A signing command validates its params (JSON Schema, before it is called), prepares what it
will sign and what the user will see (pure), then the pipeline here confirms with the user
(certificate choice, consent, PIN through the token layer) and calls the command's ``sign``.
"""

from __future__ import annotations

import abc
import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from agent.errors import ErrorGroup, KysoError
from agent.server.certificate_choice import Candidate, CertificateFilter, plan_choice
from agent.server.consent import summary
from agent.server.context import CallContext, TimedPins
from agent.signing.consent import check_mst
from agent.signing.signer import Signer, TokenSigner
from agent.tokens.certinfo import CertificateInfo
from agent.tokens.model import TokenCertificate
from agent.ui.api import (
    CertificateKey,
    CertificateOption,
    ConsentItem,
    ConsentRequest,
    ProviderNote,
    SignInOption,
)

if TYPE_CHECKING:
    from agent.remote.directory import RemoteCredential
    from agent.remote.prompt import CredentialPrompt, CredentialSecrets

    # What a page may sign with: a certificate on a token, or a remote credential.
    Signable = TokenCertificate | RemoteCredential


class Command(abc.ABC):
    """One JSON-RPC method."""

    method: ClassVar[str]
    signs: ClassVar[bool] = False  # signing methods are audited and rate-limited

    @abc.abstractmethod
    async def run(self, ctx: CallContext, params: dict[str, Any]) -> Any:
        """Do the work for already-validated params; return the JSON result."""


def decode_b64(value: str, field: str, *, limit: int | None = None) -> bytes:
    """Strict base64 (standard alphabet, whitespace allowed); DOCUMENT_TOO_LARGE past ``limit``."""
    if limit is not None and len(value) * 3 // 4 > limit + 3:
        raise KysoError("DOCUMENT_TOO_LARGE", {"size": len(value) * 3 // 4, "limit": limit})
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:  # MIME-style base64 wrapped in lines: accept, but only the standard alphabet
            data = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise KysoError(
                "PARAMS_INVALID", {"detail": f"{field} is not valid base64", "path": field}
            ) from None
    if limit is not None and len(data) > limit:
        raise KysoError("DOCUMENT_TOO_LARGE", {"size": len(data), "limit": limit})
    return data


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


_PROBLEM_ERRORS = {
    "EXPIRED": "CERT_EXPIRED",
    "NOT_YET_VALID": "CERT_NOT_YET_VALID",
    "NO_SIGNING_KEY_USAGE": "CERT_KEY_USAGE",
    "CA_CERTIFICATE": "CERT_KEY_USAGE",
    "UNSUPPORTED_CRITICAL_EXTENSION": "CERT_CRITICAL_EXTENSION",
}


def check_usable(cert: Signable, purpose: Literal["sign", "auth"]) -> None:
    """Refuse a certificate the user should not sign with, before any prompt."""
    if not isinstance(cert, TokenCertificate):
        problem = cert.details.problem  # the provider says the key or certificate is dead
        if problem:
            raise KysoError(
                "REMOTE_CREDENTIAL_INVALID",
                {
                    "provider": cert.provider.label,
                    "credential": cert.credential_id[:200],
                    "status": problem[:40],
                },
            )
    elif not cert.has_private_key:
        raise KysoError("KEY_NOT_FOUND", {"detail": cert.info.subject_display})
    for problem in cert.info.problems():
        code = _PROBLEM_ERRORS.get(problem)
        if code:
            details = {
                "not_after": cert.info.not_after,
                "not_before": cert.info.not_before,
                "purpose": purpose,
                "thumbprint": cert.thumbprint,
            }
            if code == "CERT_CRITICAL_EXTENSION":
                details["extension"] = ", ".join(cert.info.unhandled_critical_extensions)[:200]
            raise KysoError(code, details)


def usable(cert: Signable) -> bool:
    """True when the certificate has a key and no problem (a remote one: the provider
    has not disabled it)."""
    if not isinstance(cert, TokenCertificate):
        return not cert.details.problem and not cert.info.problems()
    # A key the token shows unable to sign is refused at its turn (KEY_NOT_FOUND): never a
    # row to pick, let alone the preselected one.
    return cert.has_private_key and not cert.key_cannot_sign and not cert.info.problems()


def row_source(cert: Signable) -> tuple[str, ...]:
    """Where the key is, for the picker's row key: the token (module, serial, key id) or the
    remote credential (provider, credential id)."""
    if isinstance(cert, TokenCertificate):
        return ("token", cert.token.module, cert.token.serial, cert.key_id.hex())
    return cert.row_source


def key_of(cert: Signable) -> CertificateKey:
    """The picker row key of a token certificate or a remote credential."""
    return CertificateKey(cert.thumbprint, row_source(cert))


def candidate(cert: Signable, status: str = "") -> Candidate:
    """The picker's view of a token certificate or a remote credential; ``status`` is its
    revocation status ("good", "revoked", "unknown"; "" when not asked)."""
    if isinstance(cert, TokenCertificate):
        return Candidate(
            cert.info,
            cert.token.label,
            cert.token.serial,
            cert.has_private_key,
            revoked=status == "revoked",
            revocation_unknown=status == "unknown",
            key_cannot_sign=cert.key_cannot_sign,
            key_mismatch=cert.has_private_key and cert.key_mismatch,
            source=row_source(cert),
        )
    return Candidate(
        cert.info,
        "",
        "",
        True,
        remote_provider=cert.provider.label,
        remote_disabled=bool(cert.details.problem),
        revoked=status == "revoked",
        revocation_unknown=status == "unknown",
        source=row_source(cert),
    )


def chosen_copy(row: CertificateOption, listed: list[Signable]) -> Signable:
    """The listed certificate the user's row names (certificate AND source: never another copy
    of the same certificate); CERT_NOT_FOUND when it is gone or cannot sign."""
    for cert in listed:
        if key_of(cert) == row.key and usable(cert):
            return cert
    raise KysoError("CERT_NOT_FOUND", {"thumbprint": row.thumbprint})


MAX_SIGN_INS = 3  # sign-ins offered in one picker session (no endless picker/browser loop)


def _sign_in_rows(core: Any) -> list[SignInOption]:
    """The "Sign in to <provider>" rows: remote providers still waiting for the user."""
    remote = core.certs.remote
    if remote is None:
        return []
    return [SignInOption(p.name, p.label) for p in remote.awaiting_sign_in()]


def source_of(cert: Signable) -> str:
    """What the consent says about where the key is: ``token:<label>`` or
    ``remote:<provider display name>``."""
    if isinstance(cert, TokenCertificate):
        return f"token:{cert.token.label}"
    return f"remote:{cert.provider.label}"


class TimedSecrets:
    """The prompter as the remote signer's CredentialPrompter, with the prompt timeout."""

    def __init__(self, core: Any) -> None:
        self._core = core

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Ask for the remote PIN/OTP in the agent's own window."""
        prompter = self._core.services.prompter
        return await self._core.ask(prompter.get_credential_secrets(request))


async def resolve_certificate(
    ctx: CallContext,
    thumbprint: str | None,
    purpose: Literal["sign", "auth"],
    certificate_filter: Mapping[str, Any] | None = None,
) -> Signable:
    """The named certificate, the one that fits the page's ``certificate_filter`` (when exactly
    one does), or the one the user picks in the agent's window (grouped by token, then remote
    credentials by provider; the matching one preselected). A named certificate held in
    several places (two tokens, a token and a provider) is the user's pick among those."""
    core = ctx.core
    if thumbprint:
        return await _named_certificate(ctx, thumbprint, purpose)
    for _round in range(MAX_SIGN_INS + 1):
        # CA certificates stored beside the user's are no choice at all: not even listed. A
        # slow provider is waited for only briefly: what it has not listed yet is said.
        listed = await core.certs.all(fresh=True, remote_budget=core.certs.remote_budget)
        shown = [c for c in listed if not c.info.is_ca]
        sign_ins = _sign_in_rows(core) if _round < MAX_SIGN_INS else []
        missing = [ProviderNote(label, state) for label, state in core.certs.remote_missing()]
        choice = await _ask_among(ctx, shown, certificate_filter, sign_ins, missing)
        if isinstance(choice, CertificateOption):
            return chosen_copy(choice, shown)
        assert isinstance(choice, SignInOption)  # None only with allow_none
        # "Sign in to <provider>": the browser consent, then the picker again with its
        # credentials (a refused or timed-out sign-in is the provider's stable error).
        assert core.certs.remote is not None  # a sign-in row only exists for a provider
        await core.certs.remote.sign_in(choice.provider)
        core.certs.invalidate()
        # The user chose this provider: its listing is waited for (not the picker's budget).
        await core.certs.remote_credentials()
    raise KysoError("USER_CANCELLED")


async def _named_certificate(
    ctx: CallContext, thumbprint: str, purpose: Literal["sign", "auth"]
) -> Signable:
    """The page named a thumbprint: its one usable copy, or the user's pick among several
    (never silently the first: the PIN typed must be for the token the user means)."""
    copies = await ctx.core.certs.matching(thumbprint)
    ready = [c for c in copies if usable(c)]
    if len(ready) <= 1:
        cert = ready[0] if ready else copies[0]
        check_usable(cert, purpose)  # none usable: the first copy's own reason
        return cert
    wanted = {"thumbprints": [ready[0].thumbprint]}
    choice = await _ask_among(ctx, ready, wanted, [], [], allow_none=True)
    if choice is None:  # every copy revoked: check_status says so with the first one
        return ready[0]
    assert isinstance(choice, CertificateOption)  # no sign-in rows were offered
    return chosen_copy(choice, ready)


async def _ask_among(
    ctx: CallContext,
    shown: list[Signable],
    certificate_filter: Mapping[str, Any] | None,
    sign_ins: list[SignInOption],
    missing: list[ProviderNote],
    *,
    allow_none: bool = False,
) -> CertificateOption | SignInOption | None:
    """Plan the picker over ``shown`` and ask (or take the one match); USER_CANCELLED when the
    picker is closed (``missing``: the providers it says are loading or unreachable).
    ``allow_none``: None instead of CERT_NOT_FOUND when nothing can sign."""
    core = ctx.core
    # A revoked certificate is greyed, never preselected: choosing it would only end in
    # CERT_REVOKED after the user picked it (and typed nothing wrong). One whose status is
    # known good goes before one whose CA could not be asked.
    statuses = await core.certs.statuses_among(c for c in shown if usable(c))
    plan = plan_choice(
        ctx.origin,
        (candidate(c, statuses.get(c.thumbprint, "")) for c in shown),
        CertificateFilter.from_params(certificate_filter),
        sign_ins,
        missing,
    )
    if not plan.usable and not sign_ins:
        if allow_none:
            return None
        tokens = await core.services.tokens.list_tokens()
        raise KysoError("CERT_NOT_FOUND" if tokens else "TOKEN_NOT_FOUND", {"thumbprint": ""})
    choice: CertificateOption | SignInOption | None = plan.row or await core.ask(
        core.services.prompter.choose_certificate(plan.choice)
    )
    if choice is None:  # a picker closed counts like a consent refused (no nagging)
        core.consent_guard.refused(ctx.origin, time.monotonic())
        raise KysoError("USER_CANCELLED")
    return choice


@dataclass(frozen=True)
class Prepared:
    """What a signing command will sign and show."""

    items: tuple[ConsentItem, ...]
    payload: Any
    sha256: str | None = None  # for the audit line (None for a batch: one line per item)
    count: int = 1
    # Refuses a certificate the payload cannot be signed with, before consent and PIN.
    check: Callable[[CertificateInfo], None] | None = None


SignFn = Callable[[Signer, Prepared, CallContext], Awaitable[Any]]
PrepareFn = Callable[[], Awaitable[Prepared]]


async def run_signing(
    ctx: CallContext,
    *,
    action: str,
    thumbprint: str | None,
    prepared: Prepared | PrepareFn,
    sign: SignFn,
    purpose: Literal["sign", "auth"] = "sign",
    certificate_filter: Mapping[str, Any] | None = None,
) -> Any:
    """Limits, certificate, consent, PIN, signature — in that order, nothing skipped.

    ``prepared`` may be a coroutine function that decodes the documents: it runs only once the
    page holds its place, so a page that already has a request waiting gets ACTION_PENDING
    before its next documents are decoded and parsed (no pile of 50 MB documents in memory).
    """
    core = ctx.core
    _check_cooldown(ctx)  # before the documents are decoded and the picker shown
    with core.limiter.hold(ctx.origin, ctx.connection_id):
        if not isinstance(prepared, Prepared):
            prepared = await prepared()
        ctx.sha256 = prepared.sha256
        cert = await resolve_certificate(ctx, thumbprint, purpose, certificate_filter)
        ctx.thumbprint = cert.thumbprint
        ctx.certificate = cert
        # Expired, not yet valid, not for this purpose or revoked: refused before any prompt;
        # revocation status unknown (offline, 3 s at most): a warning line in the consent.
        status = await core.certs.check_status(cert, purpose)
        if prepared.check is not None:  # e.g. a BHXH portal cannot verify ECDSA: say so now
            prepared.check(cert.info)
        from agent.signing.certstatus import consent_items  # at first use (footprint)

        items = consent_items(prepared.items, status)
        check_mst(core.settings.mst_mismatch, cert.info, items)
        request = ConsentRequest(
            ctx.origin,
            action,
            *summary(action, ctx.origin, prepared.count),
            cert.info,
            items,
            source=source_of(cert),
        )
        _prepare_consent(core.services.prompter, request)
        if not isinstance(cert, TokenCertificate):
            async with core.remote_turns.turn(cert.queue_key):
                await _consent(ctx, request)
                return await _sign_remote(ctx, cert, prepared, sign)
        try:
            # The token's own lock: its turn (BUSY past max_queue waiting), then consent while
            # others wait, then the key (the PIN cache's login reused, or the PIN asked).
            tokens = core.services.tokens
            async with tokens.reserve(cert, max_waiting=core.settings.max_queue) as turn:
                await _consent(ctx, request)
                # The PIN cache is per site and pairing: a PIN typed for one page never signs
                # for another, nor for the same site once revoked and paired again.
                scope = core.pin_scope(ctx.origin)
                async with turn.key(TimedPins(core), cache=core.keys, scope=scope) as key:
                    return await sign(TokenSigner(key), prepared, ctx)
        except KysoError as exc:
            if exc.is_(ErrorGroup.TOKEN_GONE):  # the certificate list is stale
                core.certs.invalidate()
            raise


def _check_cooldown(ctx: CallContext) -> None:
    """CONSENT_COOLDOWN, without a window, while the user's refusals hold ``ctx.origin`` off."""
    seconds = ctx.core.consent_guard.wait_seconds(ctx.origin, time.monotonic())
    if seconds:
        raise KysoError("CONSENT_COOLDOWN", {"origin": ctx.origin, "seconds": seconds})


def _prepare_consent(prompter: object, request: ConsentRequest) -> None:
    """Let a prompter that can (``prepare_consent``, optional) build the consent's text now,
    before the turn: the turn is held, and other pages wait, while the consent is asked."""
    prepare = getattr(prompter, "prepare_consent", None)
    if prepare is not None:
        prepare(request)


async def _consent(ctx: CallContext, request: ConsentRequest) -> None:
    """Ask the user in the agent's window, every time (USER_CANCELLED on no); after a run of
    refusals the origin is held off (:mod:`agent.server.consent_guard`)."""
    core = ctx.core
    guard = core.consent_guard
    _check_cooldown(ctx)  # again: the back-off may have begun while this one waited its turn
    try:
        agreed = await core.ask(core.services.prompter.consent(request))
    except KysoError as exc:
        if exc.code == "USER_TIMEOUT":  # nobody answered: a window the page gets no more of
            guard.refused(ctx.origin, time.monotonic())
        raise
    if not agreed:
        guard.refused(ctx.origin, time.monotonic())
        raise KysoError("USER_CANCELLED")
    guard.accepted(ctx.origin)


async def _sign_remote(
    ctx: CallContext, cert: RemoteCredential, prepared: Prepared, sign: SignFn
) -> Any:
    """Sign with a remote credential: the PIN/OTP is asked in the agent's window when the
    provider needs it (after the consent), kept for this one operation only."""
    from agent.signing.remote import RemoteSigner  # at first use: cryptography's verifiers

    directory = ctx.core.certs.remote
    if directory is None:  # the configuration changed under a running request
        raise KysoError("REMOTE_PROVIDER_UNKNOWN", {"provider": cert.provider.name})
    signer = RemoteSigner.open(cert, directory.service(cert.provider.name), TimedSecrets(ctx.core))
    try:
        return await sign(signer, prepared, ctx)
    except KysoError as exc:
        if exc.code == "REMOTE_CREDENTIAL_INVALID":  # revoked or disabled since the listing
            ctx.core.certs.invalidate()
        raise
    finally:
        signer.forget_secrets()
