"""The process-wide :class:`Pkcs11Module`: one instance per module path, its users counted.

A module is initialised once per process (a second C_Initialize is ignored and the first
C_Finalize would pull the module from under every other user), so instances are shared, and
so are the per-token locks (login state is per process, not per caller).
"""

from __future__ import annotations

import threading

from agent.tokens.module.provisioning import Provisioning
from agent.tokens.module.reading import TokenReading
from agent.tokens.module.sessions import KeySessions
from agent.tokens.module.signing import Signing
from agent.tokens.modules import ModuleCandidate
from agent.tokens.token_lock import TokenLock

_REGISTRY: dict[str, Pkcs11Module] = {}
_REGISTRY_LOCK = threading.Lock()


class Pkcs11Module(TokenReading, KeySessions, Signing, Provisioning):
    """A PKCS#11 module with its own worker thread: listing (:class:`TokenReading`), key
    sessions (:class:`KeySessions`), signing (:class:`Signing`) and provisioning
    (:class:`Provisioning`) over one loaded library.

    :meth:`acquire` and :meth:`release` count the users of the shared instance.
    """

    @classmethod
    async def acquire(cls, candidate: ModuleCandidate) -> Pkcs11Module:
        """The process-wide instance for this module path, loaded on first use."""
        with _REGISTRY_LOCK:
            module = _REGISTRY.get(candidate.path)
            if module is None:
                module = _REGISTRY[candidate.path] = cls(candidate)
            module._refs += 1
        try:
            await module.worker.run(module._w_load)
        except BaseException:
            await module.release()
            raise
        return module

    async def release(self) -> None:
        """Drop one user; the last one finalises the module and stops its thread."""
        with _REGISTRY_LOCK:
            self._refs -= 1
            last = self._refs == 0
            if last and _REGISTRY.get(self.path) is self:
                del _REGISTRY[self.path]
        if last:
            await self.close()

    def __init__(self, candidate: ModuleCandidate) -> None:
        super().__init__(candidate)
        self._refs = 0
        self._token_locks: dict[tuple[str, str], TokenLock] = {}
        self._token_locks_guard = threading.Lock()

    def token_lock(self, token_key: tuple[str, str]) -> TokenLock:
        """The one lock for key sessions on this token in this process (login is per process)."""
        with self._token_locks_guard:
            return self._token_locks.setdefault(token_key, TokenLock())
