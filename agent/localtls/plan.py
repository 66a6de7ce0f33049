"""What to do with the local TLS material found on disk, given the time. Pure: bytes in, decision out.

cryptography is imported by the functions that read certificates, not by this module: an agent
whose material was checked before (:mod:`agent.localtls.checked`) starts without it.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.localtls.names import CA_NAME_PREFIX, LOOPBACK_DNS, LOOPBACK_IPS

if TYPE_CHECKING:
    from cryptography import x509

RENEW_BEFORE = dt.timedelta(days=30)


class Action(enum.StrEnum):
    """What ensure_server_certificate must do."""

    USE = "use"  # everything is fine: keep serving the existing certificate
    CREATE = "create"  # nothing usable on disk: mint a CA and a certificate
    RENEW = "renew"  # a CA exists but must be replaced: mint a new one, retire the old


@dataclass(frozen=True)
class Inspection:
    """What the files on disk hold (None fields = missing or unreadable)."""

    ca: x509.Certificate | None
    server: x509.Certificate | None
    problems: tuple[str, ...]  # stable reasons: "missing", "key_mismatch", "expiring", ...


@dataclass(frozen=True)
class Decision:
    """The action with the reasons behind it (logged, and shown by `trust status`)."""

    action: Action
    reasons: tuple[str, ...] = ()


def sha1_hex(der: bytes) -> str:
    """The SHA-1 thumbprint (upper-case hex) Windows and macOS use to name a certificate."""
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def sha256_hex(der: bytes) -> str:
    """The SHA-256 fingerprint (lower-case hex) Kyso uses everywhere else."""
    return hashlib.sha256(der).hexdigest()


def _load_cert(pem: bytes | None) -> x509.Certificate | None:
    from cryptography import x509

    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def inspect_material(
    ca_pem: bytes | None, server_pem: bytes | None, key_pem: bytes | None, now: dt.datetime
) -> Inspection:
    """Check that the three files belong together, name the loopback, and are in date."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca, server = _load_cert(ca_pem), _load_cert(server_pem)
    problems: list[str] = []
    if ca is None or server is None or not key_pem:
        problems.append("missing")
        return Inspection(ca, server, tuple(problems))
    if not _is_kyso_ca(ca):
        problems.append("not_kyso_ca")
    try:
        server.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):  # InvalidSignature is not a ValueError
        problems.append("not_issued_by_ca")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        problems.append("key_unreadable")
    else:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or _spki(key.public_key()) != _spki(
            server.public_key()
        ):
            problems.append("key_mismatch")
    if not _names_loopback(server):
        problems.append("wrong_names")
    not_before = min(ca.not_valid_before_utc, server.not_valid_before_utc)
    not_after = min(ca.not_valid_after_utc, server.not_valid_after_utc)
    if now < not_before:
        problems.append("not_yet_valid")
    elif now >= not_after:
        problems.append("expired")
    elif now >= not_after - RENEW_BEFORE:
        problems.append("expiring")
    return Inspection(ca, server, tuple(problems))


def decide(inspection: Inspection) -> Decision:
    """USE when nothing is wrong; RENEW when a Kyso CA exists (it may be trusted somewhere and
    must be retired); CREATE otherwise."""
    if not inspection.problems:
        return Decision(Action.USE)
    if inspection.ca is not None and _is_kyso_ca(inspection.ca):
        return Decision(Action.RENEW, inspection.problems)
    return Decision(Action.CREATE, inspection.problems)


def _spki(public_key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _is_kyso_ca(cert: x509.Certificate) -> bool:
    from cryptography import x509

    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return bool(cns) and str(cns[0].value).startswith(CA_NAME_PREFIX)


def _names_loopback(cert: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    ips = set(san.get_values_for_type(x509.IPAddress))
    dns = set(san.get_values_for_type(x509.DNSName))
    return set(LOOPBACK_IPS) <= ips and set(LOOPBACK_DNS) <= dns
