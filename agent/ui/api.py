"""The interface between the agent's logic and whatever asks the user (Web eID's ui.hpp idea).

The server and the CLI only see :class:`Prompter`. Implementations: desktop dialogs (tkinter),
the terminal, and a scripted prompter that reads answers from a local file for tests and
unattended machines. The PIN prompt is part of this interface, so the PIN is only ever typed
into the agent's own window (or terminal), never into a web page.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CertificateChoice",
    "CertificateKey",
    "CertificateOption",
    "ConsentItem",
    "ConsentRequest",
    "PairingAnswer",
    "PairingRequest",
    "Prompter",
    "ProviderNote",
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
    # Its registrable domain, shown on its own line (a long look-alike origin wraps so that its
    # first line reads like the real portal); "" when the caller did not work it out.
    domain: str = ""


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
class CertificateKey:
    """Which copy of a certificate a picker row is. One certificate may sit on two tokens (a
    backup copy) or also at a remote provider: each copy is its own row, named by its
    thumbprint AND where its key is, so the row the user clicks is the key that signs and the
    token whose PIN is asked (never "the first one with this thumbprint")."""

    thumbprint: str
    # ("token", module path, token serial, key id in hex) or ("remote", provider handle,
    # credential id); empty for a row built from a certificate alone (samples, tests).
    source: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The row's key as text (a dialog's radio value): the thumbprint for a row without a
        source, else JSON of every part (no two sources can share one text, whatever a
        provider calls its credential)."""
        if not self.source:
            return self.thumbprint
        return json.dumps([self.thumbprint, *self.source], ensure_ascii=False)


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
    # Where the key is (see CertificateKey.source): the row's identity beside the thumbprint.
    source: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the user may pick it."""
        return not self.problems

    @property
    def key(self) -> CertificateKey:
        """This row's identity: the certificate and where its key is."""
        return CertificateKey(self.certificate.thumbprint, self.source)

    @property
    def thumbprint(self) -> str:
        """The certificate's SHA-256 thumbprint (several rows may share it)."""
        return self.certificate.thumbprint


@dataclass(frozen=True)
class ProviderNote:
    """A remote signing service whose credentials the picker cannot show: ``state`` is
    "loading" (its listing is still under way: the picker does not wait for it) or
    "unreachable" (its last listing failed)."""

    label: str  # its display name (from configuration)
    state: str


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
    """Pick one certificate (when the page did not name one, or named one that has several
    copies).

    ``options`` carries the token of each certificate and why some cannot be chosen; a choice
    built from certificates alone gets options from their own problems. Rows are keyed by
    :attr:`CertificateOption.key` (certificate and source), never by the thumbprint alone."""

    origin: str
    certificates: tuple[CertificateInfo, ...]
    options: tuple[CertificateOption, ...] = ()
    preselected: str = ""  # the row key (CertificateKey.text) selected when the picker opens
    filtered: bool = False  # the page said which certificate it wants (certificateFilter)
    # Remote providers the user can sign in to from the picker; shown after the certificates.
    sign_ins: tuple[SignInOption, ...] = ()
    # Remote providers still loading or unreachable: said in the picker, not waited for.
    providers_missing: tuple[ProviderNote, ...] = ()

    def rows(self) -> tuple[CertificateOption, ...]:
        """Every certificate shown, in order, with its token and problems."""
        if self.options:
            return self.options
        return tuple(CertificateOption(c, problems=tuple(c.problems())) for c in self.certificates)

    def default_row(self) -> CertificateOption | None:
        """The row selected when the picker opens: the preselected one if it can be chosen,
        else the first one that can."""
        usable = [o for o in self.rows() if o.usable]
        return next((o for o in usable if o.key.text == self.preselected), None) or next(
            iter(usable), None
        )

    def default(self) -> CertificateInfo | None:
        """The certificate of :meth:`default_row`."""
        row = self.default_row()
        return row.certificate if row else None

    # ---- every row, certificates then sign-in rows (what a picker shows and answers) ----

    def keys(self) -> tuple[str, ...]:
        """One key per row shown, in order: certificate rows (CertificateKey.text, unique even
        when two rows hold one certificate), then sign-in rows."""
        return tuple(o.key.text for o in self.rows()) + tuple(s.key for s in self.sign_ins)

    def disabled_keys(self) -> frozenset[str]:
        """The rows that cannot be chosen (certificates with a problem)."""
        return frozenset(o.key.text for o in self.rows() if not o.usable)

    def pick_row(self, key: str | None) -> CertificateOption | SignInOption | None:
        """What choosing the row ``key`` (one of :meth:`keys`) means: a usable certificate row,
        a sign-in, or None (not offered, or not usable)."""
        for s in self.sign_ins:
            if s.key == key:
                return s
        return next((o for o in self.rows() if o.usable and o.key.text == key), None)

    def named(self, name: str) -> CertificateOption | SignInOption | None:
        """The row a person names in writing (a scripted answer): a row key, ``sign-in:<p>``,
        a thumbprint (any case, ``:`` allowed), or ``<thumbprint>@<where>`` where ``where`` is
        a token's label or serial or a provider's name. A thumbprint that several usable rows
        share names none of them (never silently the first)."""
        exact = self.pick_row(name.strip())
        if exact is not None:
            return exact
        thumbprint, _, where = name.strip().partition("@")
        thumbprint = thumbprint.replace(":", "").lower()
        found = [
            o
            for o in self.rows()
            if o.usable
            and o.thumbprint == thumbprint
            and (not where or where in (o.token_label, o.token_serial, o.remote_provider))
        ]
        return found[0] if len(found) == 1 else None


class Prompter(Protocol):
    """Asks the user. Every method returns None (or DENY/False) when the user cancels."""

    name: str  # "dialog", "terminal" or "scripted" (shown in agent.info when scripted)

    async def pair(self, request: PairingRequest) -> PairingAnswer:
        """Ask whether an origin may use the agent."""
        ...

    async def choose_certificate(
        self, request: CertificateChoice
    ) -> CertificateOption | SignInOption | None:
        """Ask which certificate to use (or a provider to sign in to); None when cancelled.
        The answer is the row itself (its key says which token or provider holds the key)."""
        ...

    async def consent(self, request: ConsentRequest) -> bool:
        """Show what will be signed and ask to go ahead. (A prompter may also have
        ``prepare_consent(request)``, called before the agent waits for the token's turn, to
        build the text ahead; it is optional and asks nothing.)"""
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
