"""How the token layer asks for a PIN. The PIN never comes from a web page: only a provider
that the agent owns (a dialog, the terminal, a local file for automation) implements this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.tokens.certinfo import CertificateInfo


@dataclass(frozen=True)
class PinState:
    """What the token's flags say about its user PIN."""

    count_low: bool = False  # at least one wrong PIN since the last good one
    final_try: bool = False  # one more wrong PIN locks the token
    locked: bool = False

    @property
    def tries_hint(self) -> str | None:
        """A short stable hint for dialogs and errors."""
        if self.locked:
            return "locked"
        if self.final_try:
            return "final_try"
        if self.count_low:
            return "count_low"
        return None


@dataclass(frozen=True)
class PinRequest:
    """Everything a PIN dialog shows: which token, for which certificate, and the PIN state."""

    token_label: str
    token_serial: str
    certificate: CertificateInfo | None
    state: PinState
    min_length: int = 0
    max_length: int = 0


class PinProvider(Protocol):
    """Asks the user for a token PIN. Returns None when the user cancels."""

    async def get_pin(self, request: PinRequest) -> str | None:
        """Ask once; the token layer never retries a wrong PIN on its own."""
        ...


class StaticPinProvider:
    """Gives a PIN known in advance (``--pin-file``, automation, tests)."""

    def __init__(self, pin: str | None) -> None:
        self._pin = pin
        self.requests: list[PinRequest] = []

    async def get_pin(self, request: PinRequest) -> str | None:
        """Return the stored PIN; record the request so callers can see what was asked."""
        self.requests.append(request)
        return self._pin
