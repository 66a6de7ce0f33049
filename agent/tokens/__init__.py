"""The PKCS#11 token layer: modules, tokens, certificates, PIN handling and signing.

Only :mod:`agent.tokens.module` calls python-pkcs11, and only on each module's worker thread.
"""

from agent.tokens.algorithms import KeyKind, SignatureAlgorithm
from agent.tokens.certinfo import CertificateInfo, parse_certificate
from agent.tokens.module import TokenCertificate, TokenInfo
from agent.tokens.pin import PinProvider, PinRequest, PinState, StaticPinProvider
from agent.tokens.service import KeySession, ModuleStatus, TokenEvent, TokenService

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
