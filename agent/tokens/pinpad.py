"""Logging in on a PIN-pad reader (CKF_PROTECTED_AUTHENTICATION_PATH), with the agent's window.

The reader collects the PIN; Kyso only calls ``C_Login`` without one and waits. While it
waits, a provider that can (:class:`PinPadPrompter`: the agent's dialogs, terminal, scripted
answers) shows "Enter the PIN on the card reader's keypad" with the token's name and its PIN
state. A wrong PIN typed on the pad is told with the flags re-read and the reader asks again,
within the same operation, like the keyboard PIN dialog.

PKCS#11 has no way to interrupt a ``C_Login`` in progress, so Cancel in the window cannot stop
the reader: it stops the signing. The request then ends with USER_CANCELLED as soon as the
login returns (the user pressed Cancel on the reader, typed the PIN, or the reader timed out);
a login that succeeded meanwhile is logged out and closed unused. The key lock stays held
until then: the token really is busy, and a next operation would only queue behind the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agent.errors import KysoError
from agent.tokens.pin import PinProvider, PinRequest, PinState

if TYPE_CHECKING:
    from agent.tokens.model import SessionHandle, TokenCertificate
    from agent.tokens.module import Pkcs11Module

log = logging.getLogger(__name__)

MAX_PIN_PAD_ATTEMPTS = 5  # as for a typed PIN: a reader that never locks must not loop for ever
_RETRY = frozenset({"PIN_INCORRECT", "PIN_FINAL_TRY", "PIN_INVALID"})
# The window shown after Cancel while the reader still waits (previous_error of its request).
CANCELLING = "USER_CANCELLED"


@runtime_checkable
class PinPadPrompter(Protocol):
    """A PIN provider that can show the PIN-pad window (every Prompter is one)."""

    async def show_pin_pad(self, request: PinRequest) -> None:
        """Show "enter the PIN on the reader's keypad" until the user presses Cancel (then
        return) or the caller cancels this call (the reader answered: close the window).
        Raises USER_TIMEOUT when nobody answered in time."""
        ...


async def login_on_pin_pad(
    module: Pkcs11Module, cert: TokenCertificate, provider: PinProvider
) -> SessionHandle:
    """Log in on the reader's PIN pad, showing the agent's window while the reader waits."""
    token = cert.token
    previous: KysoError | None = None
    for attempt in range(1, MAX_PIN_PAD_ATTEMPTS + 1):
        state = await module.pin_state(token)
        if state.locked:
            if previous is not None:
                await _tell_locked(provider, cert, state)
            raise KysoError("PIN_LOCKED", {"detail": token.label, "pin_state": "locked"})
        request = PinRequest(
            token.label, token.serial, cert.info, state, previous_error=previous, attempt=attempt
        )
        try:
            return await _one_login(module, cert, provider, request)
        except KysoError as exc:
            if exc.code == "PIN_LOCKED":
                await _tell_locked(provider, cert, PinState(locked=True))
            if exc.code not in _RETRY:
                raise
            log.info("wrong PIN on the pad of %s (attempt %d): %s", token.label, attempt, exc.code)
            previous = exc
    assert previous is not None
    raise previous


async def _one_login(
    module: Pkcs11Module, cert: TokenCertificate, provider: PinProvider, request: PinRequest
) -> SessionHandle:
    """One C_Login on the pad, raced against the window's Cancel."""
    login = asyncio.ensure_future(module.open_session(cert, None))
    if not isinstance(provider, PinPadPrompter):  # e.g. --pin-file: nobody to show it to
        return await login
    window = asyncio.ensure_future(provider.show_pin_pad(request))
    try:
        await asyncio.wait({login, window}, return_when=asyncio.FIRST_COMPLETED)
        if login.done():
            return login.result()
        ended = window.exception()
        if ended is not None and not isinstance(ended, KysoError):
            # The window broke (not the user): the reader still asks, so keep waiting.
            log.warning("PIN-pad window failed: %r", ended)
            return await login
        # The user pressed Cancel (or nobody answered in time) while the reader still waits.
        await _wait_for_reader(login, provider, request)
    except asyncio.CancelledError:
        login.cancel()  # open_session logs out and closes a session nobody receives
        raise
    finally:
        await _close_window(window)
    if not login.cancelled() and login.exception() is None:
        await module.close_session(login.result())  # the PIN was typed after Cancel: unused
    raise ended or KysoError("USER_CANCELLED")


async def _wait_for_reader(
    login: asyncio.Future[SessionHandle], provider: PinPadPrompter, request: PinRequest
) -> None:
    """Say that the reader still waits (its own Cancel key ends it) until the login returns."""
    notice = dataclasses.replace(request, previous_error=KysoError(CANCELLING))
    window = asyncio.ensure_future(provider.show_pin_pad(notice))
    try:
        await asyncio.wait({login}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _close_window(window)


async def _close_window(window: asyncio.Future[None]) -> None:
    """Close a PIN-pad window (cancelling its prompt) and wait until it is gone."""
    window.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await window


async def _tell_locked(provider: PinProvider, cert: TokenCertificate, state: PinState) -> None:
    """The "PIN locked" notice (the same as after a typed PIN: its only button closes it)."""
    token = cert.token
    locked = KysoError("PIN_LOCKED", {"detail": token.label, "pin_state": "locked"})
    request = PinRequest(token.label, token.serial, cert.info, state, previous_error=locked)
    with contextlib.suppress(KysoError):
        await provider.get_pin(request)
