"""Desktop dialogs (tkinter): pairing, certificate choice, consent, PIN and the PIN-pad reader's
window. Each dialog runs in its own Tk root on the UI thread (see tkthread) and is awaited from
asyncio; a timeout closes it and gives USER_TIMEOUT.

The agent's words are in the language the tray's Settings chose (tray.json), read again at
every prompt, so a change applies to the next dialog without a restart; the question, summary
and warnings keep the other language in a small grey line for whoever helps the user."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

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
from agent.ui.dialog_view import DialogView, build_dialog
from agent.ui.text import (
    PromptText,
    certificate_choice_text,
    consent_text,
    credential_text,
    pairing_text,
    pin_pad_text,
    pin_text,
)
from agent.ui.tkthread import Outcome, UiThread

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0


def display_available() -> bool:
    """False on a Linux/BSD machine with neither X11 nor Wayland (a server, a CI job)."""
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class DialogPrompter:
    """Asks the user in always-on-top desktop windows."""

    name = "dialog"

    def __init__(
        self,
        *,
        timeout_seconds: float | None = DEFAULT_TIMEOUT,
        arm_delay_ms: int = 600,
        on_shown: Callable[[DialogView], None] | None = None,
        probe: bool = True,
        language: Callable[[], str] | None = None,
    ) -> None:
        """Start the UI thread and check that a window can be opened.

        Raises KysoError PROMPTER_UNAVAILABLE when there is no display. ``on_shown`` is called
        on the UI thread with each dialog once it is built (tests drive dialogs with it).
        ``language`` gives "vi" or "en" at each prompt; by default the tray's saved setting.
        """
        if not display_available():
            raise KysoError(
                "PROMPTER_UNAVAILABLE",
                {"prompter": "dialog", "detail": "no display (DISPLAY is not set)"},
            )
        self.timeout_seconds = timeout_seconds
        self.arm_delay_ms = arm_delay_ms
        self.on_shown = on_shown
        self.language = language or saved_language
        self._ui = UiThread()
        self._icon_image: Any = None
        if probe:
            try:
                self._ui.probe()
            except Exception as exc:  # TclError: cannot connect to the display
                raise KysoError(
                    "PROMPTER_UNAVAILABLE", {"prompter": "dialog", "detail": str(exc)}
                ) from exc

    async def _show(
        self,
        text: PromptText,
        *,
        certificate_keys: tuple[str, ...] = (),
        disabled: frozenset[str] = frozenset(),
        selected: str = "",
    ) -> Any:
        def build(root: Any, finish: Callable[[Any], None]) -> None:
            icon = _icon(root)
            root.kyso_icon = icon  # keep the image alive as long as the window
            build_dialog(
                root,
                text,
                finish,
                timeout_seconds=self.timeout_seconds,
                arm_delay_ms=self.arm_delay_ms,
                certificate_keys=certificate_keys,
                disabled_certificates=disabled,
                selected_certificate=selected,
                icon=icon,
                on_built=self.on_shown,
            )

        result = await self._ui.run(build, timeout_seconds=self.timeout_seconds)
        if result is Outcome.TIMEOUT:
            raise KysoError("USER_TIMEOUT", {"prompt": text.kind})
        return None if result is Outcome.CANCELLED else result

    async def pair(self, request: PairingRequest) -> PairingAnswer:
        """Một lần / Luôn cho phép / Từ chối."""
        answer = await self._show(pairing_text(request, self._lang()))
        try:
            return PairingAnswer(answer)
        except ValueError:
            return PairingAnswer.DENY

    async def choose_certificate(
        self, request: CertificateChoice
    ) -> CertificateOption | SignInOption | None:
        """Certificates grouped by token; unusable ones are shown but cannot be chosen; then
        the "Sign in to <provider>" rows of remote signing services. Each radio button's value
        is its row's key (certificate and source), so the row clicked is the row returned."""
        default = request.default_row()
        chosen = await self._show(
            certificate_choice_text(request, self._lang()),
            certificate_keys=request.keys(),
            disabled=request.disabled_keys(),
            selected=default.key.text if default else "",
        )
        return request.pick_row(chosen)

    async def consent(self, request: ConsentRequest) -> bool:
        """Origin in bold, certificate, every item with its SHA-256: Ký / Hủy."""
        return await self._show(consent_text(request, self._lang())) == "allow"

    async def get_pin(self, request: PinRequest) -> str | None:
        """Masked PIN field; tries left, final try and locked in red."""
        pin = await self._show(pin_text(request, self._lang()))
        return pin if isinstance(pin, str) and pin else None

    async def show_pin_pad(self, request: PinRequest) -> None:
        """ "Enter the PIN on the card reader's keypad" with a Cancel button: returns when the
        user cancels; cancelling this call (the reader answered) closes the window."""
        await self._show(pin_pad_text(request, self._lang()))

    async def get_credential_secrets(self, request: CredentialPrompt) -> CredentialSecrets | None:
        """A remote credential's masked PIN and/or OTP fields, with the provider's name."""
        values = await self._show(credential_text(request, self._lang()))
        if not isinstance(values, dict):
            return None
        return CredentialSecrets(pin=values.get("pin"), otp=values.get("otp"))

    def _lang(self) -> str:
        """The language for the prompt about to open ("vi" unless the setting says "en")."""
        try:
            return "en" if self.language() == "en" else "vi"
        except Exception:  # a broken setting must never stop a prompt: Vietnamese
            log.warning("cannot read the language setting", exc_info=True)
            return "vi"

    def close(self, wait: float = 5.0) -> None:
        """End the UI thread (after the dialog on screen, if any), closing its display connection."""
        self._ui.stop(wait)


def saved_language() -> str:
    """The language the tray's Settings saved ("vi" or "en"; "vi" without a setting)."""
    from agent.ui.tray_prefs import load_preferences

    return load_preferences().language


def _icon(root: Any) -> Any:
    """The seal icon as a Tk image bound to ``root`` (None if Pillow's Tk support is missing)."""
    try:
        from PIL import ImageTk

        from agent.ui.icon import draw_icon

        return ImageTk.PhotoImage(draw_icon(48), master=root)
    except Exception:  # an icon is nice to have, never a reason to fail a prompt
        log.debug("no icon for the dialog", exc_info=True)
        return None
