"""Asking in the terminal that runs ``kyso-agent run --prompter terminal``.

The prompt texts are the dialogs' (agent.ui.text), printed in full: page text already made
inert there, and always on lines that start with ``PAGE_PREFIX``, below the origin line the
agent prints itself. The PIN is read with
getpass, so it is never echoed. Reading blocks, so it happens in a worker thread while the event
loop keeps serving other connections; prompts are asked one at a time.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from agent.errors import KysoError
from agent.remote.prompt import CredentialPrompt, CredentialSecrets
from agent.tokens.pin import PinRequest
from agent.ui.api import (
    CertificateChoice,
    CertificateOption,
    ConsentRequest,
    PairingAnswer,
    PairingRequest,
    SignInOption,
)
from agent.ui.text import (
    PAGE_PREFIX,
    PromptText,
    certificate_choice_text,
    consent_text,
    credential_text,
    pairing_text,
    pin_pad_text,
    pin_text,
    render_plain,
)

YES = {"y", "yes", "c", "co", "có", "k", "ky", "ký"}
PAIR_KEYS = {
    "o": PairingAnswer.ONCE,
    "once": PairingAnswer.ONCE,
    "1": PairingAnswer.ONCE,
    "a": PairingAnswer.ALWAYS,
    "always": PairingAnswer.ALWAYS,
    "l": PairingAnswer.ALWAYS,
    "d": PairingAnswer.DENY,
    "deny": PairingAnswer.DENY,
    "t": PairingAnswer.DENY,
}
RULE = "=" * 72


def parse_pairing(answer: str) -> PairingAnswer:
    """o / a / d (or the Vietnamese l = luôn, t = từ chối); anything else is deny."""
    return PAIR_KEYS.get(answer.strip().lower(), PairingAnswer.DENY)


def parse_yes(answer: str) -> bool:
    """y/yes/c/có/k/ký is yes; anything else, including Enter alone, is no."""
    return answer.strip().lower() in YES


def parse_choice(answer: str, count: int, default: int | None) -> int | None:
    """A 1-based number from the list; Enter = the default; anything else = cancel."""
    answer = answer.strip()
    if not answer:
        return default
    if answer.isdigit() and 1 <= int(answer) <= count:
        return int(answer) - 1
    return None


class TerminalPrompter:
    """Prompts on stdin/stderr; one at a time."""

    name = "terminal"

    def __init__(
        self,
        *,
        input_func: Callable[[str], str] | None = None,
        pin_func: Callable[[str], str] | None = None,
        output: TextIO | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        """Defaults: input(), getpass.getpass() and stderr (stdout may be piped elsewhere)."""
        self._input = input_func or input
        self._pin = pin_func or getpass.getpass
        self._out = output or sys.stderr
        self.timeout_seconds = timeout_seconds
        self._lock = asyncio.Lock()

    def _show(self, text: PromptText) -> None:
        self._out.write(f"\n{RULE}\n{render_plain(text)}\n{RULE}\n")
        self._out.flush()

    async def _ask(self, text: PromptText, question: str, *, secret: bool = False) -> str:
        async with self._lock:
            self._show(text)
            reader = self._pin if secret else self._input
            try:
                return await asyncio.wait_for(
                    asyncio.to_thread(reader, question), timeout=self.timeout_seconds
                )
            except TimeoutError:
                self._out.write("\nHết thời gian / timed out.\n")
                raise KysoError("USER_TIMEOUT", {"prompt": text.kind}) from None
            except EOFError:
                return ""

    async def pair(self, request: PairingRequest) -> PairingAnswer:
        """[o] once, [a] always, [d] deny (default deny)."""
        answer = await self._ask(
            pairing_text(request),
            "[o] Một lần / once   [a] Luôn cho phép / always   [d] Từ chối / deny  (d): ",
        )
        return parse_pairing(answer)

    async def choose_certificate(
        self, request: CertificateChoice
    ) -> CertificateOption | SignInOption | None:
        """A numbered list (certificates under their token's or provider's heading, then "Sign
        in to <provider>" rows); Enter picks the preselected row. Each number is one row, so
        one certificate on two tokens is two numbers, each answering with its own token."""
        text = certificate_choice_text(request)
        keys = request.keys()
        disabled = request.disabled_keys()
        usable = [i for i, k in enumerate(keys) if k not in disabled]
        chosen = request.default_row()
        default = keys.index(chosen.key.text) if chosen else None
        # The subjects as rendered in the prompt's text (inert), on page-text lines, under the
        # agent's own token heading.
        numbered = ""
        group = None
        for i, section in enumerate(text.sections):
            if section.group and section.group != group:
                group = section.group
                numbered += f"{section.group}\n"
            numbered += (
                f"{PAGE_PREFIX}{i + 1}. {section.title}"
                f"{'' if i in usable else '  (không dùng được / unusable)'}\n"
            )
        question = f"{numbered}Số / number ({default + 1 if default is not None else 'q'}): "
        index = parse_choice(await self._ask(text, question), len(keys), default)
        if index is None or index not in usable:
            return None
        return request.pick_row(keys[index])

    async def consent(self, request: ConsentRequest) -> bool:
        """The full summary, then y/N."""
        verb = "Xác nhận / confirm" if request.action == "auth.challenge" else "Ký / sign"
        return parse_yes(await self._ask(consent_text(request), f"{verb}? [y/N]: "))

    async def get_pin(self, request: PinRequest) -> str | None:
        """The PIN via getpass (never echoed); an empty answer cancels."""
        text = pin_text(request)
        if request.state.locked:
            self._show(text)
            return None
        pin = await self._ask(text, "Mã PIN / PIN (Enter = hủy / cancel): ", secret=True)
        return pin or None

    async def show_pin_pad(self, request: PinRequest) -> None:
        """Print "enter the PIN on the card reader's keypad" and wait for the reader.

        Nothing is read from the terminal here: a line reader left blocked on stdin when the
        reader answers could not be stopped, and would eat the answer to the next prompt. The
        reader's own Cancel key cancels (the token layer then ends with USER_CANCELLED)."""
        self._show(pin_pad_text(request))
        self._out.write(
            "Nhấn phím Hủy trên đầu đọc để hủy · Press Cancel on the reader to cancel\n"
        )
        self._out.flush()
        await asyncio.get_running_loop().create_future()  # until the token layer closes it

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """A remote credential's PIN and/or OTP via getpass (never echoed); an empty answer
        cancels."""
        text = credential_text(request)
        values: dict[str, str] = {}
        for key, label_vi, label_en in text.secret_fields:
            value = await self._ask(
                text, f"{label_vi} / {label_en} (Enter = hủy / cancel): ", secret=True
            )
            if not value:
                return None
            values[key] = value
        return CredentialSecrets(pin=values.get("pin"), otp=values.get("otp"))
