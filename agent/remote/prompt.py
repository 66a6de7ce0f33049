"""How remote signing asks for a PIN and/or an OTP: a request type and a prompter interface.

Like the token PIN (:mod:`agent.tokens.pin`), the secret never comes from a web page: only a
prompter the agent owns (its dialog, the terminal, a scripted file for automation) answers.
The UI's ``Prompter`` gains :meth:`CredentialPrompter.get_credential_secrets` to become one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.tokens.certinfo import CertificateInfo


@dataclass(frozen=True)
class CredentialPrompt:
    """Everything the dialog shows before the user types a PIN or OTP for a remote key.

    ``pin_label`` / ``otp_label`` come from the provider's answer: untrusted text, to be shown
    as plain text only (never markup), and already cut to 80 characters."""

    provider: str  # the provider's display name (from configuration, not from the service)
    provider_name: str  # stable handle, as in source "remote:<name>"
    credential_id: str
    certificate: CertificateInfo
    need_pin: bool
    need_otp: bool
    signatures: int  # how many signatures this one authorisation covers
    pin_label: str = ""
    otp_label: str = ""
    otp_online: bool = False  # the provider sent the OTP (SMS, app) rather than a device
    retry_pin: bool = False  # False: ask; the PIN is kept for the rest of this operation


@dataclass(frozen=True)
class CredentialSecrets:
    """The user's answer. ``repr`` never shows the values, so a logged object leaks nothing."""

    pin: str | None = field(default=None, repr=False)
    otp: str | None = field(default=None, repr=False)


class CredentialPrompter(Protocol):
    """Asks the user for a remote credential's PIN and/or OTP. None when the user cancels."""

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Ask once; a wrong PIN/OTP is reported, never retried on its own."""
        ...


class StaticCredentialPrompter:
    """Answers known in advance (automation, tests); OTPs are handed out one per request, the
    way a user reads a fresh code each time."""

    def __init__(self, pin: str | None = None, otps: list[str] | None = None) -> None:
        self._pin = pin
        self._otps = list(otps or [])
        self.requests: list[CredentialPrompt] = []

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """Return the stored PIN and the next OTP; record what was asked."""
        self.requests.append(request)
        otp = self._otps.pop(0) if request.need_otp and self._otps else None
        return CredentialSecrets(pin=self._pin if request.need_pin else None, otp=otp)
