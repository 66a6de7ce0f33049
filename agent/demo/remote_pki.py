"""The demo remote signing service's keys: four remote credentials issued by the demo PKI's
issuing CA (made once, never overwritten), and the certomancer configuration serving them.

Their certificates name the demo responder like the tokens' do, so the issuing CA records them
in the responder's database too: "good", and "revoked" (also in the CRL) for the revoked one,
never "unknown"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certomancer.registry import CertomancerConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from agent.demo.ocsp_index import record_issued
from agent.demo.pki import PkiUrls, Profile, TestCA, pki_port

ARCH = "kyso"


@dataclass(frozen=True)
class RemoteProfile:
    """One remote credential of the demo service."""

    label: str
    subject: x509.Name
    key_kind: str = "RSA"
    otp: bool = False
    revoked: bool = False


def _subject(cn: str, uid: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Hà Nội"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.USER_ID, uid),
        ]
    )


REMOTE_PROFILES: tuple[RemoteProfile, ...] = (
    RemoteProfile(
        "org", _subject("Công ty TNHH Giải pháp Kyso Việt Nam (ký từ xa)", "MST:0101234567")
    ),
    RemoteProfile("personal_otp", _subject("Lê Minh Châu", "CCCD:001190054321"), otp=True),
    RemoteProfile("ec", _subject("Hộ kinh doanh Phạm Văn Đức", "MST:8098765432"), key_kind="EC"),
    RemoteProfile(
        "revoked", _subject("Công ty TNHH Giải pháp Kyso Việt Nam", "MST:0101234567"), revoked=True
    ),
)


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    # Material is made once and reused; never overwritten.
    path.write_bytes(data)
    path.chmod(mode)


def make_remote_pki(directory: Path, ca: TestCA, urls: PkiUrls | None = None) -> dict[str, Any]:
    """Issue the remote credentials from the demo issuing CA into ``directory`` (made once:
    existing material is reused) and return the certomancer configuration serving them.

    The material goes in a subdirectory named after the issuing CA, so a demo PKI made anew
    gets new credentials instead of stale ones, and nothing is overwritten."""
    fingerprint = ca.issuing_cert.fingerprint(hashes.SHA256()).hex()[:16]
    directory = directory / f"ca-{fingerprint}"
    directory.mkdir(parents=True, exist_ok=True)
    urls = urls or PkiUrls(pki_port())
    pub = serialization.Encoding.PEM
    for name, cert in (("root", ca.root_cert), ("issuing", ca.issuing_cert)):
        if not (directory / f"{name}.cert.pem").exists():
            _write_new(directory / f"{name}.cert.pem", cert.public_bytes(pub))
            spki = cert.public_key().public_bytes(
                pub, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _write_new(directory / f"{name}.pub.pem", spki)
    keys: dict[str, Any] = {
        "root": {"path": "root.pub.pem", "public-only": True},
        "issuing": {"path": "issuing.pub.pem", "public-only": True},
    }
    entities: dict[str, Any] = {
        "root": {"common-name": "Kyso Test Root CA"},
        "issuing": {"common-name": "Kyso Test Issuing CA"},
    }
    certs: dict[str, Any] = {
        "root": {"subject": "root", "issuer": "root", "certificate-file": "root.cert.pem"},
        "issuing": {"subject": "issuing", "issuer": "root", "certificate-file": "issuing.cert.pem"},
    }
    issued: list[tuple[x509.Certificate, bool]] = []
    for profile in REMOTE_PROFILES:
        key_path = directory / f"{profile.label}.key.pem"
        cert_path = directory / f"{profile.label}.cert.pem"
        if not key_path.exists() or not cert_path.exists():
            key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
                ec.generate_private_key(ec.SECP256R1())
                if profile.key_kind == "EC"
                else rsa.generate_private_key(65537, 2048)
            )
            cert = ca.issue(
                Profile(profile.label, 0, 0, profile.subject, key_kind=profile.key_kind),
                key.public_key(),
                x509.random_serial_number(),
                urls,
            )
            _write_new(key_path, _pem_key(key), 0o600)
            _write_new(cert_path, cert.public_bytes(pub))
        issued.append((x509.load_pem_x509_certificate(cert_path.read_bytes()), profile.revoked))
        keys[profile.label] = {"path": key_path.name}
        entities[profile.label] = {"common-name": profile.label}
        certs[profile.label] = {
            "subject": profile.label,
            "issuer": "issuing",
            "certificate-file": cert_path.name,
        }
    # Every time, not only when issuing: material made by an older version gets recorded too.
    record_issued(ca, issued)
    for spec in certs.values():
        # certomancer wants the validity written out even for a pre-issued certificate.
        cert = x509.load_pem_x509_certificate((directory / spec["certificate-file"]).read_bytes())
        spec["validity"] = {
            "valid-from": cert.not_valid_before_utc.isoformat(),
            "valid-to": cert.not_valid_after_utc.isoformat(),
        }
    return {
        "keysets": {ARCH: {"path-prefix": str(directory), "keys": keys}},
        "pki-architectures": {
            ARCH: {"keyset": ARCH, "entities": entities, "certs": certs},
        },
    }


def load_config(directory: Path, ca: TestCA, urls: PkiUrls | None = None) -> CertomancerConfig:
    """The certomancer configuration over :func:`make_remote_pki`'s material."""
    raw = make_remote_pki(directory, ca, urls)
    where = raw["keysets"][ARCH]["path-prefix"]
    return CertomancerConfig(raw, key_search_dir=where, config_search_dir=where)
