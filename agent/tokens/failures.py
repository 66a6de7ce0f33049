"""The one place where python-pkcs11 exceptions become Kyso errors a user can act on."""

from __future__ import annotations

import pkcs11.exceptions as p11e

from agent.errors import KysoError
from agent.tokens.pin import PinState

_REMOVED = (
    p11e.TokenNotPresent,
    p11e.DeviceRemoved,
    p11e.SessionClosed,
    p11e.SessionHandleInvalid,
    p11e.TokenNotRecognised,
)


# PKCS#11 failures that map to one code each, whatever the token's state.
_SIMPLE: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (p11e.PinLocked, "PIN_LOCKED"),
    ((p11e.PinInvalid, p11e.PinLenRange), "PIN_INVALID"),
    (p11e.FunctionCancelled, "USER_CANCELLED"),
    (p11e.NoSuchKey, "KEY_NOT_FOUND"),
)


def _wrong_pin_code(state: PinState | None) -> str:
    """A wrong PIN, told with what the token says now (locked, final try)."""
    if state is not None and state.locked:
        return "PIN_LOCKED"
    if state is not None and state.final_try:
        return "PIN_FINAL_TRY"
    return "PIN_INCORRECT"


def translate(
    exc: BaseException, *, state: PinState | None = None, removed: bool = False
) -> KysoError:
    """Map a PKCS#11 failure to a KysoError.

    ``removed`` is set by the caller when it re-checked and the token is gone: modules report a
    pulled token in many ways (SoftHSM2 says ObjectHandleInvalid or GeneralError), so presence
    is the reliable test.
    """
    if isinstance(exc, KysoError):
        return exc
    details: dict[str, object] = {"detail": type(exc).__name__}
    if state is not None and state.tries_hint:
        details["pin_state"] = state.tries_hint
    if removed or isinstance(exc, _REMOVED):
        return KysoError("TOKEN_REMOVED", details)
    if isinstance(exc, p11e.PinIncorrect):
        return KysoError(_wrong_pin_code(state), details)
    for kinds, code in _SIMPLE:
        if isinstance(exc, kinds):
            return KysoError(code, details)
    if isinstance(exc, p11e.MechanismInvalid | p11e.MechanismParamInvalid):
        return KysoError("MECHANISM_UNSUPPORTED", {**details, "algorithm": details["detail"]})
    if isinstance(exc, p11e.PKCS11Error):
        return KysoError("TOKEN_ERROR", details)
    return KysoError("INTERNAL_ERROR", {"detail": f"{type(exc).__name__}: {exc}"})
