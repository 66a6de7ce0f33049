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
        if state is not None and state.locked:
            return KysoError("PIN_LOCKED", details)
        if state is not None and state.final_try:
            return KysoError("PIN_FINAL_TRY", details)
        return KysoError("PIN_INCORRECT", details)
    if isinstance(exc, p11e.PinLocked):
        return KysoError("PIN_LOCKED", details)
    if isinstance(exc, p11e.PinInvalid | p11e.PinLenRange):
        return KysoError("PIN_INVALID", details)
    if isinstance(exc, p11e.FunctionCancelled):
        return KysoError("USER_CANCELLED", details)
    if isinstance(exc, p11e.MechanismInvalid | p11e.MechanismParamInvalid):
        return KysoError("MECHANISM_UNSUPPORTED", {**details, "algorithm": details["detail"]})
    if isinstance(exc, p11e.NoSuchKey):
        return KysoError("KEY_NOT_FOUND", details)
    if isinstance(exc, p11e.PKCS11Error):
        return KysoError("TOKEN_ERROR", details)
    return KysoError("INTERNAL_ERROR", {"detail": f"{type(exc).__name__}: {exc}"})
