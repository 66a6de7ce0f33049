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
    "ConsentItem",
    "ConsentRequest",
    "PairingAnswer",
    "PairingRequest",
    "Prompter",
]

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


@dataclass(frozen=True)
class CertificateChoice:
    """Pick one certificate (when the page did not name one)."""

    origin: str
    certificates: tuple[CertificateInfo, ...]


class Prompter(Protocol):
    """Asks the user. Every method returns None (or DENY/False) when the user cancels."""

    name: str  # "dialog", "terminal" or "scripted" (shown in agent.info when scripted)

    async def pair(self, request: PairingRequest) -> PairingAnswer:
        """Ask whether an origin may use the agent."""
        ...

    async def choose_certificate(self, request: CertificateChoice) -> CertificateInfo | None:
        """Ask which certificate to use; None when cancelled."""
        ...

    async def consent(self, request: ConsentRequest) -> bool:
        """Show what will be signed and ask to go ahead."""
        ...

    async def get_pin(self, request: PinRequest) -> str | None:
        """Ask for the token PIN (this makes every Prompter a PinProvider)."""
        ...
