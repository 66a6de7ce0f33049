"""The loaded PKCS#11 modules: the only code in Kyso that calls python-pkcs11.

Every method whose name starts with ``_w_`` runs on the module's worker thread
(:mod:`agent.tokens.worker`); the public async methods queue them there, and the plain
functions here that touch python-pkcs11 are called only from those methods. Objects from
python-pkcs11 never leave this package: callers get plain dataclasses and opaque session
handles (:mod:`agent.tokens.model`).

- :mod:`.library`: the loaded library, finding a token again, its PIN flags;
- :mod:`.reading`: listing tokens and their certificates (no login);
- :mod:`.keys`: reading key objects, finding a certificate's private key;
- :mod:`.sessions`: logging in (PIN, PIN pad) and out;
- :mod:`.signing`: signing, and proving the key by the session's first signature;
- :mod:`.provisioning`: generating keys and storing certificates (demo, IT tooling);
- :mod:`.shared`: :class:`Pkcs11Module`, one per module path per process.
"""

from __future__ import annotations

from agent.tokens.module.sessions import PIN_PAD
from agent.tokens.module.shared import Pkcs11Module

__all__ = ["PIN_PAD", "Pkcs11Module"]
