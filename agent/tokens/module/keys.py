"""Reading key objects, and finding a certificate's private key among those under its CKA_ID.

Which key is the certificate's is decided in :mod:`agent.tokens.keymatch` (pure logic); this
file reads what the token shows of each key (:func:`key_facts`) and keeps, per session, the
keys not yet proven by a signature (:class:`KeyHandle`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pkcs11
import pkcs11.exceptions as p11e
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.attributes import AttributeMapper, handle_bytes

from agent.errors import KysoError
from agent.tokens.model import SessionHandle, TokenCertificate, TokenInfo

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from agent.tokens.keymatch import KeyFacts

# CKA_PUBLIC_KEY_INFO (PKCS#11 2.40): a key's own statement of its public key. Newer than
# python-pkcs11's table, so sessions that read it get a mapper that reads it as bytes.
_CKA_PUBLIC_KEY_INFO: Any = 0x129
ATTRIBUTE_MAPPER = AttributeMapper()
ATTRIBUTE_MAPPER.register_handler(_CKA_PUBLIC_KEY_INFO, *handle_bytes)
# A label is a display name: invalid UTF-8 in one (a foreign tool wrote it) shows as U+FFFD, as
# in a token's label, instead of failing the read of its object.
ATTRIBUTE_MAPPER.register_handler(
    Attribute.LABEL, lambda s: s.encode("utf-8"), lambda b: b.decode("utf-8", errors="replace")
)
# What a private key may show of its public half, read in one C_GetAttributeValue.
PRIVATE_KEY_FACTS: tuple[Any, ...] = (
    Attribute.KEY_TYPE,
    Attribute.MODULUS,
    Attribute.PUBLIC_EXPONENT,
    Attribute.EC_PARAMS,
    _CKA_PUBLIC_KEY_INFO,
)
# A public key object also shows its EC point (a private EC key never does).
PUBLIC_KEY_FACTS: tuple[Any, ...] = (*PRIVATE_KEY_FACTS, Attribute.EC_POINT)

_KEY_TYPES = {"RSA": KeyType.RSA, "EC": KeyType.EC}
_KEY_TYPE_NAMES = {KeyType.RSA: "RSA", KeyType.EC: "EC"}


class Unproven:
    """The keys under a certificate's CKA_ID that may be its key, until the session's first
    signature, verified with ``cert_key`` before it is handed out, proves one of them."""

    def __init__(self, cert: TokenCertificate, cert_key: PublicKeyTypes, candidates: list[Any]):
        self.cert = cert
        self.cert_key = cert_key
        self.candidates = candidates


class KeyHandle(SessionHandle):
    """A session handle that remembers, for the session, whether its key is proven yet
    (``unproven`` None once a signature by it verified with the certificate)."""

    def __init__(
        self, session: Any, private_key: Any, token: TokenInfo, unproven: Unproven | None
    ) -> None:
        super().__init__(session, private_key, token)
        self.unproven = unproven


def find_key(session: Any, cert: TokenCertificate) -> KeyHandle:
    """The session handle for ``cert``'s private key: among the keys under its CKA_ID, the
    one whose public half is the certificate's (renewal tools leave stale keys under a
    reused id, and a signature by another key is worthless). Keys whose attributes show
    another public key are dropped here (KEY_CERT_MISMATCH when none is left); the
    session's first signature proves the key
    (:meth:`~agent.tokens.module.signing.Signing._w_sign_proving`). Worker thread only."""
    from agent.tokens.keymatch import cannot_sign, choose, judge

    found = list(
        session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: cert.key_id})
    )
    if not found:
        raise KysoError("KEY_NOT_FOUND", {"detail": cert.info.subject_display})
    # Only a key the token lets sign is a candidate: python-pkcs11 gives a key the sign method
    # only when its CKA_SIGN is true, and a CKA_SIGN=false key would fail after the PIN.
    keys = [key for key in found if isinstance(key, pkcs11.SignMixin)]
    if not keys:
        raise cannot_sign(cert)
    cert_key = cert.info.certificate.public_key()
    candidates = choose(cert, [(key, judge(cert_key, key_facts(key))) for key in keys])
    for key in candidates:
        _note_key_type(key, cert.info.key_type)
    unproven = Unproven(cert, cert_key, candidates)
    return KeyHandle(session, candidates[0], cert.token, unproven)


def key_facts(key: Any, attributes: tuple[Any, ...] = PRIVATE_KEY_FACTS) -> KeyFacts:
    """What ``key`` shows of its public half: one C_GetAttributeValue, one by one if the token
    refuses the batch (some do not implement partial answers); what fails stays unknown.
    Worker thread only."""
    from agent.tokens.keymatch import KeyFacts

    try:
        values = key.get_attributes(attributes)
    except (p11e.PKCS11Error, NotImplementedError, ValueError):
        values = {}
        for attribute in attributes:
            try:
                values[attribute] = key[attribute]
            except (p11e.PKCS11Error, NotImplementedError, ValueError):
                continue  # not shown, or a value python-pkcs11 cannot read: unknown
    key_type = values.get(Attribute.KEY_TYPE)
    return KeyFacts(
        key_type=None if key_type is None else _KEY_TYPE_NAMES.get(key_type, str(key_type)),
        modulus=_bytes_or_none(values.get(Attribute.MODULUS)),
        public_exponent=_bytes_or_none(values.get(Attribute.PUBLIC_EXPONENT)),
        ec_params=_bytes_or_none(values.get(Attribute.EC_PARAMS)),
        public_key_info=_bytes_or_none(values.get(_CKA_PUBLIC_KEY_INFO)),
        ec_point=_bytes_or_none(values.get(Attribute.EC_POINT)),
    )


def _bytes_or_none(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray) else None


def _note_key_type(key: Any, certificate_key_type: str) -> None:
    """Give python-pkcs11 the key type we already know from the certificate.

    python-pkcs11 reads CKA_KEY_TYPE on a key's first signature, only to pick a default
    mechanism; we always name the mechanism, so that read is one wasted C_GetAttributeValue per
    key session (a USB round trip on a real token; about 0.05 ms on SoftHSM2).
    ``key_type`` is a ``functools.cached_property``, which accepts a plain assignment.
    """
    known = _KEY_TYPES.get(certificate_key_type)
    if known is not None:
        key.key_type = known
