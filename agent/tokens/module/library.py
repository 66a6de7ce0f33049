"""One PKCS#11 library as this process loaded it: its worker thread, finding its tokens, flags.

:class:`LoadedLibrary` holds the state every part of
:class:`~agent.tokens.module.shared.Pkcs11Module` shares (the python-pkcs11 ``lib``, the
certificate cache, the count of open sessions) and the calls they all make: loading and
finalising, finding a token in its slot again, reading its PIN flags.
"""

from __future__ import annotations

import logging
from typing import Any

import pkcs11
import pkcs11.exceptions as p11e
from pkcs11 import TokenFlag

from agent.errors import KysoError
from agent.tokens.model import TokenCertificate, TokenInfo
from agent.tokens.modules import ModuleCandidate
from agent.tokens.pin import PinState
from agent.tokens.worker import ModuleWorker

log = logging.getLogger(__name__)


def _flags_state(flags: int) -> tuple[PinState, bool, bool]:
    """A token's CKF_* flags: its PIN state, whether it has a PIN pad, whether it needs login."""
    f = TokenFlag(flags)
    state = PinState(
        count_low=bool(f & TokenFlag.USER_PIN_COUNT_LOW),
        final_try=bool(f & TokenFlag.USER_PIN_FINAL_TRY),
        locked=bool(f & TokenFlag.USER_PIN_LOCKED),
    )
    return (
        state,
        bool(f & TokenFlag.PROTECTED_AUTHENTICATION_PATH),
        bool(f & TokenFlag.LOGIN_REQUIRED),
    )


class LoadedLibrary:
    """A PKCS#11 library and the thread that owns it.

    Every method whose name starts with ``_w_`` runs on :attr:`worker`'s thread; the public
    async methods queue them there.
    """

    def __init__(self, candidate: ModuleCandidate) -> None:
        self.candidate = candidate
        self.path = candidate.path
        self.worker = ModuleWorker(candidate.vendor)
        self._lib: Any = None
        self._open_sessions = 0
        self._has_slot_events = False
        self.description = ""
        self._cert_cache: dict[tuple[str, int, str, str], list[TokenCertificate]] = {}
        # Per token (same key): why certificate objects were skipped by its last listing.
        self._unreadable: dict[tuple[str, int, str, str], tuple[str, ...]] = {}
        # A token's mechanisms, read once while it stays in its slot (~110 us a read on
        # SoftHSM2, and every request's listing used to pay it for every slot).
        self._mechanism_cache: dict[tuple[int, bytes, str], frozenset[Any]] = {}

    # ---- lifecycle ---------------------------------------------------------------------------
    def _w_load(self) -> None:
        if self._lib is not None:
            return
        try:
            self._lib = pkcs11.lib(self.path)
        except Exception as exc:
            raise KysoError(
                "MODULE_LOAD_FAILED",
                {"module": self.path, "detail": f"{type(exc).__name__}: {exc}"},
            ) from exc
        self.description = f"{self._lib.manufacturer_id} {self._lib.library_description}".strip()
        try:
            self._lib.wait_for_slot_event(blocking=False)
            self._has_slot_events = True
        except p11e.NoEvent:
            self._has_slot_events = True
        except Exception:  # FunctionNotSupported and friends: fall back to polling
            self._has_slot_events = False

    async def close(self) -> None:
        """Finalise the module and stop its thread."""
        try:
            await self.worker.run(self._w_close)
        finally:
            self.worker.close()

    def _w_close(self) -> None:
        if self._lib is not None:
            try:
                self._lib.finalize()
            except Exception:  # already finalised or the module is broken: nothing to keep
                log.debug("finalize failed for %s", self.path, exc_info=True)
            self._lib = None

    # ---- one token ---------------------------------------------------------------------------
    def _w_find_token(self, info: TokenInfo) -> Any:
        """The token ``info`` describes: same serial and label, in its own slot when two
        tokens look alike (a driver giving both one serial and label)."""
        found = None
        for slot in self._lib.get_slots(token_present=True):
            try:
                token = slot.get_token()
            except p11e.PKCS11Error:
                continue
            if token.serial.decode(errors="replace") == info.serial and token.label == info.label:
                if slot.slot_id == info.slot_id:
                    return token
                found = found or token  # the slot was renumbered (re-initialised module)
        if found is not None:
            return found
        raise KysoError("TOKEN_REMOVED", {"detail": info.label})

    def _w_present(self, info: TokenInfo) -> bool:
        try:
            self._w_find_token(info)
            return True
        except KysoError:
            return False

    @staticmethod
    def _token_state(token: Any) -> tuple[PinState, bool, bool]:
        """``token``'s PIN state, PIN pad and login flags (the one reading of the flags)."""
        return _flags_state(token.flags)

    async def pin_state(self, info: TokenInfo) -> PinState:
        """The token's PIN flags read now (they change after each wrong PIN)."""
        return await self.worker.run(self._w_pin_state, info)

    def _w_pin_state(self, info: TokenInfo) -> PinState:
        return self._token_state(self._w_find_token(info))[0]

    def _w_state_or(self, fallback: PinState, info: TokenInfo) -> PinState:
        try:
            return self._w_pin_state(info)
        except KysoError:
            return fallback

    # ---- for the benchmark's reference measurement only -----------------------------------------
    def raw_library(self) -> Any:
        """The python-pkcs11 lib object; only bench/ uses it, to measure the layer's overhead."""
        return self._lib


def cache_key(info: TokenInfo) -> tuple[str, int, str, str]:
    """The certificate cache's key: module, slot, serial and label. Two tokens a driver reports
    with one serial (blank, or a vendor default) keep their own certificates."""
    return (info.module, info.slot_id, info.serial, info.label)
