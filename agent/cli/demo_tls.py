"""HTTPS for the demo portal: a small CA of its own and a certificate for 127.0.0.1.

The portal stub must be served over https (the agent only talks to https origins), so the demo
and the browser tests give it a certificate from a *separate* demo CA — never from the agent's
local CA, whose key is deleted after it issued the agent's one certificate. The demo CA's key is
deleted the same way once the portal certificate exists: nothing else can be minted with it.
Browsers trust the CA the honest way: it is imported into an NSS database with certutil.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.errors import KysoError
from agent.files import atomic_write

CA_NAME = "Kyso Demo Portal CA (chỉ dùng thử / demo only)"
NSS_NICKNAME = "Kyso Demo Portal CA"
_RENEW_BEFORE = dt.timedelta(days=14)


@dataclass(frozen=True)
class PortalTls:
    """Where the portal's certificate, key and the CA to trust live."""

    cert_path: Path
    key_path: Path
    ca_cert_path: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _still_good(paths: PortalTls, now: dt.datetime) -> bool:
    if not all(p.exists() for p in (paths.cert_path, paths.key_path, paths.ca_cert_path)):
        return False
    cert = x509.load_pem_x509_certificate(paths.cert_path.read_bytes())
    return cert.not_valid_after_utc - now > _RENEW_BEFORE


def ensure_portal_certificate(directory: Path, *, days: int = 365) -> PortalTls:
    """Create (or reuse while valid) the demo CA and the portal's server certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = PortalTls(
        directory / "portal.pem", directory / "portal.key", directory / "portal-ca.pem"
    )
    now = dt.datetime.now(dt.UTC)
    if _still_good(paths, now):
        return paths
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kyso demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days + 1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                    x509.DNSName("localhost"),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    # The CA key is never written: it signed the one certificate the demo needs and dies here.
    atomic_write(paths.key_path, _key_pem(key), overwrite=True)
    atomic_write(paths.cert_path, cert.public_bytes(serialization.Encoding.PEM), overwrite=True)
    atomic_write(
        paths.ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM), overwrite=True
    )
    paths.key_path.chmod(0o600)
    return paths


def nss_database(home: Path) -> Path:
    """The NSS database Chromium and Chrome read on Linux for a given home directory."""
    return home / ".pki" / "nssdb"


def _certutil() -> str:
    path = shutil.which("certutil")
    if path is None:
        raise KysoError(
            "INPUT_INVALID", {"detail": "certutil is missing (Debian package libnss3-tools)"}
        )
    return path


def nss_trust_ca(nssdb: Path, ca_pem: Path, nickname: str = NSS_NICKNAME) -> None:
    """Import ``ca_pem`` as a trusted web CA into ``nssdb`` (created when missing)."""
    certutil = _certutil()
    nssdb.mkdir(parents=True, exist_ok=True)
    if not (nssdb / "cert9.db").exists():
        subprocess.run(
            [certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"],
            check=True,
            capture_output=True,
        )
    # -A with an existing nickname adds a second cert under it; delete first so renewals replace.
    subprocess.run([certutil, "-D", "-d", f"sql:{nssdb}", "-n", nickname], capture_output=True)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{nssdb}", "-n", nickname, "-t", "C,,", "-i", str(ca_pem)],
        check=True,
        capture_output=True,
    )


def nss_has_ca(nssdb: Path, nickname: str = NSS_NICKNAME) -> bool:
    """True when ``nssdb`` holds a certificate under ``nickname``."""
    if not (nssdb / "cert9.db").exists():
        return False
    result = subprocess.run(
        [_certutil(), "-L", "-d", f"sql:{nssdb}", "-n", nickname], capture_output=True
    )
    return result.returncode == 0
