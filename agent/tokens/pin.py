"""How the token layer asks for a PIN. The PIN never comes from a web page: only a provider
that the agent owns (a dialog, the terminal, a local file for automation) implements this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agent.errors import KysoError
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
    # Set when the token refused the PIN just typed in this same operation: the dialog says so
    # (PIN_INCORRECT, PIN_FINAL_TRY or PIN_INVALID) and the user types it again.
    previous_error: KysoError | None = field(default=None, compare=False)
    attempt: int = 1  # 1 for the first prompt of an operation, 2 after one wrong PIN...

    @property
    def retry(self) -> bool:
        """True when this prompt follows a PIN the token refused in the same operation."""
        return self.previous_error is not None


class PinProvider(Protocol):
    """Asks the user for a token PIN. Returns None when the user cancels."""

    async def get_pin(self, request: PinRequest) -> str | None:
        """Ask for the PIN. After a wrong PIN the token layer asks again, with
        ``request.previous_error`` set; a provider that cannot ask a person again raises it."""
        ...


class StaticPinProvider:
    """Gives a PIN known in advance (``--pin-file``, automation, tests)."""

    def __init__(self, pin: str | None) -> None:
        self._pin = pin
        self.requests: list[PinRequest] = []

    async def get_pin(self, request: PinRequest) -> str | None:
        """Return the stored PIN; record the request so callers can see what was asked.

        A known PIN the token refused is wrong: giving it again would only use up the token's
        tries, so a retry re-raises the refusal instead."""
        if request.previous_error is not None:
            raise request.previous_error
        self.requests.append(request)
        if request.state.final_try:
            # Earlier wrong PINs left one try: an unattended PIN that is wrong too (a stale
            # PIN file, run by a scheduled job) would lock the token. A person types it.
            raise KysoError(
                "PIN_FINAL_TRY",
                {
                    "detail": f"{request.token_label}: a stored PIN is not sent on the token's "
                    "final try; type the PIN yourself",
                    "pin_state": "final_try",
                },
            )
        return self._pin
