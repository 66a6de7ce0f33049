"""The interface between the agent's logic and whatever asks the user (Web eID's ui.hpp idea).

The server and the CLI only see :class:`Prompter`. Implementations: desktop dialogs (tkinter),
the terminal, and a scripted prompter that reads answers from a local file for tests and
unattended machines. The PIN prompt is part of this interface, so the PIN is only ever typed
into the agent's own window (or terminal), never into a web page.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CertificateChoice",
    "CertificateOption",
    "ConsentItem",
    "ConsentRequest",
    "PairingAnswer",
    "PairingRequest",
    "Prompter",
    "SignInOption",
]

from agent.remote.prompt import CredentialPrompt, CredentialSecrets
from agent.signing.consent import ConsentItem
from agent.tokens.certinfo import CertificateInfo
from agent.tokens.pin import PinRequest


class PairingAnswer(enum.StrEnum):
    """The user's answer to "Allow https://… to use your signing token?"."""

    ONCE = "once"
    ALWAYS = "always"
    DENY = "deny"


@dataclass(frozen=True)
class PairingRequest:
    """An unknown https origin wants to talk to the agent."""

    origin: str


@dataclass(frozen=True)
class ConsentRequest:
    """Everything shown before a signature: who asks, with which certificate, to sign what."""

    origin: str
    action: str  # stable: "sign.xml", "sign.cms", "sign.hash", "sign.batch", "auth.challenge"
    summary_vi: str  # one sentence, e.g. "Ký hồ sơ gửi tới https://…"
    summary_en: str
    certificate: CertificateInfo | None
    items: tuple[ConsentItem, ...] = field(default_factory=tuple)
    # Where the key is: "token:<label>" or "remote:<provider display name>" (ký số từ xa), so
    # the user sees which remote service will sign before any PIN or OTP is asked.
    source: str = ""


@dataclass(frozen=True)
class CertificateOption:
    """One row of the certificate picker: the certificate, the token it is on, and why it
    cannot be chosen (problem codes; empty when it can)."""

    certificate: CertificateInfo
    token_label: str = ""
    token_serial: str = ""
    problems: tuple[
        str, ...
    ] = ()  # EXPIRED, NOT_YET_VALID, NO_SIGNING_KEY_USAGE, NO_PRIVATE_KEY, REVOKED…
    matches: bool = True  # fits what the page asked for (certificateFilter); True without one
    # A remote credential (ký số từ xa): its provider's display name; empty for a token.
    remote_provider: str = ""

    @property
    def usable(self) -> bool:
        """True when the user may pick it."""
        return not self.problems


@dataclass(frozen=True)
class SignInOption:
    """A picker row that is not a certificate: "Sign in to <provider>", for a remote signing
    provider (OAuth2 authorization code) whose user has not signed in yet. Choosing it opens
    the provider's sign-in page in the system browser; the picker then shows its credentials.
    """

    provider: str  # the provider's handle, as in source "remote:<name>"
    label: str  # its display name (from configuration)

    @property
    def key(self) -> str:
        """The row's key beside certificate thumbprints (never hex, so never a thumbprint)."""
        return f"sign-in:{self.provider}"

    @property
    def thumbprint(self) -> str:
        """The row key: code that compares thumbprints finds no certificate for it."""
        return self.key


@dataclass(frozen=True)
class CertificateChoice:
    """Pick one certificate (when the page did not name one).

    ``options`` carries the token of each certificate and why some cannot be chosen; a choice
    built from certificates alone gets options from their own problems."""

    origin: str
    certificates: tuple[CertificateInfo, ...]
    options: tuple[CertificateOption, ...] = ()
    preselected: str = ""  # thumbprint selected when the picker opens
    filtered: bool = False  # the page said which certificate it wants (certificateFilter)
    # Remote providers the user can sign in to from the picker; shown after the certificates.
    sign_ins: tuple[SignInOption, ...] = ()

    def rows(self) -> tuple[CertificateOption, ...]:
        """Every certificate shown, in order, with its token and problems."""
        if self.options:
            return self.options
        return tuple(CertificateOption(c, problems=tuple(c.problems())) for c in self.certificates)

    def default(self) -> CertificateInfo | None:
        """The certificate selected when the picker opens: the preselected one if it can be
        chosen, else the first one that can."""
        usable = [o.certificate for o in self.rows() if o.usable]
        return next((c for c in usable if c.thumbprint == self.preselected), None) or next(
            iter(usable), None
        )

    def pick(self, thumbprint: str | None) -> CertificateInfo | None:
        """The usable certificate with this thumbprint (None: not offered or not usable)."""
        return next(
            (
                o.certificate
                for o in self.rows()
                if o.usable and o.certificate.thumbprint == thumbprint
            ),
            None,
        )

    # ---- every row, certificates then sign-in rows (what a picker shows and answers) ----

    def keys(self) -> tuple[str, ...]:
        """One key per row shown, in order: certificate thumbprints, then sign-in rows."""
        return tuple(o.certificate.thumbprint for o in self.rows()) + tuple(
            s.key for s in self.sign_ins
        )

    def disabled_keys(self) -> frozenset[str]:
        """The rows that cannot be chosen (certificates with a problem)."""
        return frozenset(o.certificate.thumbprint for o in self.rows() if not o.usable)

    def pick_row(self, key: str | None) -> CertificateInfo | SignInOption | None:
        """What choosing the row ``key`` means: a usable certificate, a sign-in, or None."""
        return next((s for s in self.sign_ins if s.key == key), None) or self.pick(key)


class Prompter(Protocol):
    """Asks the user. Every method returns None (or DENY/False) when the user cancels."""

    name: str  # "dialog", "terminal" or "scripted" (shown in agent.info when scripted)

    async def pair(self, request: PairingRequest) -> PairingAnswer:
        """Ask whether an origin may use the agent."""
        ...

    async def choose_certificate(
        self, request: CertificateChoice
    ) -> CertificateInfo | SignInOption | None:
        """Ask which certificate to use (or a provider to sign in to); None when cancelled."""
        ...

    async def consent(self, request: ConsentRequest) -> bool:
        """Show what will be signed and ask to go ahead."""
        ...

    async def get_pin(self, request: PinRequest) -> str | None:
        """Ask for the token PIN (this makes every Prompter a PinProvider)."""
        ...

    async def show_pin_pad(self, request: PinRequest) -> None:
        """Show "enter the PIN on the card reader's keypad" while a PIN-pad reader waits
        (agent.tokens.pinpad): return when the user presses Cancel; the token layer cancels
        this call when the reader answers, which must close the window."""
        ...

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Ask for a remote credential's PIN and/or OTP (this makes every Prompter a
        CredentialPrompter); None when the user cancels."""
        ...
