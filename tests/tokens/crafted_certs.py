"""Odd certificates built in memory with cryptography (red team 22's shapes), for pure tests.

Not a test module: tests/tokens and tests/server import it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from agent.tokens.certinfo import CertificateInfo, parse_certificate

if TYPE_CHECKING:
    from agent.signing.signer import SoftwareSigner

NOW = dt.datetime.now(dt.UTC)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Crafted Test CA")])
PRIVATE_OID = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")  # the red team's private extension
_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "CN": NameOID.COMMON_NAME,
    "UID": NameOID.USER_ID,
}
_SIGNING = x509.KeyUsage(True, True, False, False, False, False, False, False, False)


def name(*attrs: tuple[str, str]) -> x509.Name:
    """A subject in the order given (one attribute may come twice, as DER allows)."""
    return x509.Name([x509.NameAttribute(_OIDS[k], v) for k, v in attrs])


def ca_certificate() -> x509.Certificate:
    """The self-signed CA that issues every crafted certificate."""
    return (
        x509.CertificateBuilder()
        .subject_name(CA_NAME)
        .issuer_name(CA_NAME)
        .public_key(CA_KEY.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=2))
        .not_valid_after(NOW + dt.timedelta(days=40000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(CA_KEY.public_key()), False)
        .sign(CA_KEY, hashes.SHA256())
    )


def certificate(
    subject: x509.Name | Sequence[tuple[str, str]] = (("CN", "CONG TY A"),),
    *,
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
    key_usage: bool = True,
    rsa_bits: int = 0,
    days: int = 365,
    until: dt.datetime | None = None,
) -> x509.Certificate:
    """An end-entity certificate from the crafted CA: EC P-256, or RSA of ``rsa_bits``;
    signing key usage (critical) unless ``key_usage`` is False; ``extensions`` as
    (extension, critical) pairs."""
    key = (
        rsa.generate_private_key(65537, rsa_bits)
        if rsa_bits
        else ec.generate_private_key(ec.SECP256R1())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject if isinstance(subject, x509.Name) else name(*subject))
        .issuer_name(CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(until or NOW + dt.timedelta(days=days))
    )
    if key_usage:
        builder = builder.add_extension(_SIGNING, True)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(CA_KEY, hashes.SHA256())


def info(*args: object, **kwargs: object) -> CertificateInfo:
    """:func:`certificate`, as Kyso reads it."""
    cert = certificate(*args, **kwargs)  # type: ignore[arg-type]
    return parse_certificate(cert.public_bytes(serialization.Encoding.DER))


def private_critical() -> tuple[x509.ExtensionType, bool]:
    """The red team's critical private extension (1.3.6.1.4.1.99999.1, NULL)."""
    return x509.UnrecognizedExtension(PRIVATE_OID, b"\x05\x00"), True


def self_signed_signer(common_name: str) -> SoftwareSigner:
    """A signer over an in-memory EC P-256 key with a self-signed certificate named
    ``common_name``: for format tests where who signed does not matter (no token, no CA)."""
    from agent.signing.signer import SoftwareSigner

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=9))
        .sign(key, hashes.SHA256())
    )
    return SoftwareSigner(key, cert)
