"""The PKCS#11 token layer: modules, tokens, certificates, PIN handling and signing.

Only :mod:`agent.tokens.module` calls python-pkcs11, and only on each module's worker thread.
The names below are loaded on first use (PEP 562), so importing one submodule does not load
python-pkcs11 or cryptography: an idle agent loads them when a page connects or a token is
asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.tokens.algorithms import KeyKind, SignatureAlgorithm
    from agent.tokens.certinfo import CertificateInfo, parse_certificate
    from agent.tokens.model import TokenCertificate, TokenInfo
    from agent.tokens.pin import PinProvider, PinRequest, PinState, StaticPinProvider
    from agent.tokens.service import KeySession, ModuleStatus, TokenEvent, TokenService

_WHERE = {
    "KeyKind": "algorithms",
    "SignatureAlgorithm": "algorithms",
    "CertificateInfo": "certinfo",
    "parse_certificate": "certinfo",
    "TokenCertificate": "model",
    "TokenInfo": "model",
    "PinProvider": "pin",
    "PinRequest": "pin",
    "PinState": "pin",
    "StaticPinProvider": "pin",
    "KeySession": "service",
    "ModuleStatus": "service",
    "TokenEvent": "service",
    "TokenService": "service",
}

__all__ = [
    "CertificateInfo",
    "KeyKind",
    "KeySession",
    "ModuleStatus",
    "PinProvider",
    "PinRequest",
    "PinState",
    "SignatureAlgorithm",
    "StaticPinProvider",
    "TokenCertificate",
    "TokenEvent",
    "TokenInfo",
    "TokenService",
    "parse_certificate",
]


def __getattr__(name: str) -> Any:
    """``from agent.tokens import X`` loads X's own submodule, and only that."""
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'agent.tokens' has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"agent.tokens.{module}"), name)
