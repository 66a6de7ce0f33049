"""Minting the per-install CA and the loopback server certificate. Pure: no files, no clock.

The CA exists for one purpose: to sign ONE server certificate for ``127.0.0.1``, ``::1`` and
``localhost``. Its private key only lives in memory while that certificate is signed, and the
caller drops it right after, so nothing can ever mint another certificate with it. As a second
line of defence the CA carries name constraints limiting it to those three names, so even a
leaked CA key could not be used to impersonate a real website in browsers that honour them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.localtls.names import CA_NAME_PREFIX, LOOPBACK_DNS, LOOPBACK_IPS

SERVER_VALIDITY = dt.timedelta(days=365)
# The CA outlives its one certificate a little, so clock skew never makes the chain fail first.
CA_MARGIN = dt.timedelta(days=2)
BACKDATE = dt.timedelta(hours=1)  # tolerate a slightly slow clock in the browser's machine

# What a CA key may do: sign certificates and CRLs, nothing else.
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class IssuedPair:
    """A freshly minted CA certificate and server certificate with the server's key (PEM)."""

    ca_cert_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes


def ca_common_name(owner: str, now: dt.datetime) -> str:
    """The CA's name as users see it in certificate managers: whose install, and since when."""
    return f"{CA_NAME_PREFIX} ({owner}, {now.date().isoformat()})"


def _name_constraints() -> x509.NameConstraints:
    permitted: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
        x509.IPAddress(ipaddress.ip_network("::1/128")),
        x509.DNSName("localhost"),
    ]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


def issue(owner: str, now: dt.datetime) -> IssuedPair:
    """Create the agent's new CA (ECDSA P-256), sign its loopback server certificate, forget
    the CA key."""
    return issue_loopback(ca_common_name(owner, now), "Kyso local signing agent", now)


# A TLS server key: digital signature only.
_SERVER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _server_builder(
    ca_name: x509.Name,
    ca_ski: x509.SubjectKeyIdentifier,
    server_key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.CertificateBuilder:
    """The loopback server certificate, ready for the CA to sign."""
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_SERVER_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in LOOPBACK_DNS]
                + [x509.IPAddress(ip) for ip in LOOPBACK_IPS]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
    )


def issue_loopback(
    common_name: str,
    organization: str,
    now: dt.datetime,
    *,
    server_validity: dt.timedelta = SERVER_VALIDITY,
) -> IssuedPair:
    """A one-certificate CA, name-constrained to loopback, and the server certificate it signs
    for 127.0.0.1, ::1 and localhost. The CA key is never serialised: nothing can mint more."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    start = now - BACKDATE
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + server_validity + CA_MARGIN)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(_name_constraints(), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_cert = _server_builder(ca_name, ca_ski, server_key, start, now + server_validity).sign(
        ca_key, hashes.SHA256()
    )
    # The CA key goes out of scope here and is never serialised: nothing can mint more.
    del ca_key
    return IssuedPair(
        ca_cert_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert_pem=server_cert.public_bytes(serialization.Encoding.PEM),
        server_key_pem=server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
