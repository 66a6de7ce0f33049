"""Key sessions: log in (a typed PIN, the reader's PIN pad, or none), find the key, log out.

Login state belongs to the token and the process, so a session is opened and closed only
under the token's lock (:mod:`agent.tokens.token_lock`), and a session nobody will receive is
closed at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from typing import Any

import pkcs11
import pkcs11.exceptions as p11e

from agent.errors import KysoError
from agent.tokens.failures import translate
from agent.tokens.model import SessionHandle, TokenCertificate, TokenInfo
from agent.tokens.module.keys import ATTRIBUTE_MAPPER, find_key
from agent.tokens.module.library import LoadedLibrary

log = logging.getLogger(__name__)

_CKR_OK = 0x0
_CKR_USER_NOT_LOGGED_IN = 0x101

# What a login asks for on a PIN-pad reader (protected authentication path): C_Login with no
# PIN, the reader collects it.
PIN_PAD: Any = pkcs11.PROTECTED_AUTH


class KeySessions(LoadedLibrary):
    """Opening and closing logged-in sessions on the module's tokens."""

    async def open_session(self, cert: TokenCertificate, pin: str | None) -> SessionHandle:
        """Open a session, log in (``pin`` None = PIN pad or no login needed), find the key.

        Safe to cancel: the login already queued on the worker still runs, and a session
        nobody will receive is logged out and closed (a leaked login would keep the token
        logged in and stop hot-plug re-initialisation)."""
        abandoned = threading.Event()
        call = asyncio.ensure_future(
            self.worker.run(self._w_open_session_for, cert, pin, abandoned)
        )
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            abandoned.set()
            call.add_done_callback(self._close_abandoned)
            raise

    def _w_open_session_for(
        self, cert: TokenCertificate, pin: str | None, abandoned: threading.Event
    ) -> SessionHandle:
        handle = self._w_open_session(cert, pin)
        if abandoned.is_set():  # the caller went away while we were logging in
            self._w_close_session(handle)
        return handle

    def _close_abandoned(self, call: asyncio.Future[SessionHandle]) -> None:
        # The caller was cancelled just as the login finished: close from here instead.
        if call.cancelled() or call.exception() is not None:
            return
        handle = call.result()
        if not handle.closed:
            self.worker.submit(self._w_close_session, handle)

    def _w_open_session(self, cert: TokenCertificate, pin: str | None) -> SessionHandle:
        info = cert.token
        token = self._w_find_token(info)
        state, protected, login_required = self._token_state(token)
        if state.locked:
            raise KysoError("PIN_LOCKED", {"detail": info.label})
        if not login_required:
            user_pin: Any = None
        elif pin is None and protected:
            user_pin = PIN_PAD
        else:
            user_pin = pin
        try:
            try:
                session = self._w_login(token, user_pin)
            except p11e.UserAlreadyLoggedIn:
                # A login this process made outside the token lock (a leak, or other code using
                # the module). Reusing it would sign without the token ever checking this PIN:
                # log it out and log in again, so the token judges the PIN just entered.
                self._w_logout_stale(token, info)
                session = self._w_login(token, user_pin)
        except p11e.PKCS11Error as exc:
            after = self._w_state_or(state, info)
            raise translate(exc, state=after, removed=not self._w_present(info)) from exc
        self._open_sessions += 1
        try:
            handle = find_key(session, cert)
        except BaseException as exc:
            self._w_close_session_raw(session)
            if isinstance(exc, p11e.PKCS11Error):
                raise translate(exc, removed=not self._w_present(info)) from exc
            raise
        return handle

    def _w_login(self, token: Any, user_pin: Any) -> Any:
        """Open a session and log in: with ``user_pin``, on the reader's PIN pad when it is
        :data:`PIN_PAD`, or not at all when None. The one call that makes a PIN pad prompt."""
        return token.open(user_pin=user_pin, attribute_mapper=ATTRIBUTE_MAPPER)

    def _w_logout_stale(self, token: Any, info: TokenInfo) -> None:
        """End a login this process holds on ``token`` without a session of ours.

        python-pkcs11 calls C_Logout only from a session it logged in itself, so call the
        module's exported C_Logout on a fresh session (logout ends the login for every session
        of the process, which is the point)."""
        log.warning("token %s was already logged in by this process; logging it out", info.label)
        session = token.open()
        try:
            c_logout = ctypes.CDLL(self.path).C_Logout  # the loaded library: dlopen shares it
            c_logout.argtypes = [ctypes.c_ulong]
            c_logout.restype = ctypes.c_ulong
            rv = c_logout(session.handle)
        except (OSError, AttributeError) as exc:
            raise KysoError(
                "TOKEN_ERROR", {"detail": f"cannot end a stale login on {info.label}: {exc}"}
            ) from exc
        finally:
            session.close()
        if rv not in (_CKR_OK, _CKR_USER_NOT_LOGGED_IN):
            raise KysoError("TOKEN_ERROR", {"detail": f"C_Logout returned {rv:#x}"})

    async def close_session(self, handle: SessionHandle) -> None:
        """Log out and close; errors from a pulled token are ignored (nothing left to close)."""
        await self.worker.run(self._w_close_session, handle)

    def close_session_soon(self, handle: SessionHandle) -> None:
        """Queue the log-out and close on the module's thread without waiting for it.

        Safe to release the token's turn right after: the thread runs calls in order, so the
        next holder's first call (its PIN state, its login) runs after this log-out. The
        signature's answer need not wait for C_Logout, and nothing can cancel it halfway."""
        self.worker.submit(self._w_close_session, handle)

    def _w_close_session(self, handle: SessionHandle) -> None:
        if not handle.closed:
            handle.closed = True
            self._w_close_session_raw(handle._session)

    def _w_close_session_raw(self, session: Any) -> None:
        self._open_sessions -= 1
        try:
            session.close()
        except p11e.PKCS11Error:
            log.debug("closing a session failed (token gone?)", exc_info=True)
