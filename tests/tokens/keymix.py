"""The KYSO KEYMATCH token: a certificate signs only with ITS key, and this token is where that is
proven (tests/tokens/test_key_match.py) and where a listing forecasts the refusal.

Real tokens carry stale keys and certificates after a renewal (the new certificate written under
the old key's id, two keys under one id). Before this check the token layer took the first
private key under the certificate's CKA_ID: the CLI and the agent answered "signed" with a
signature no verifier accepts (red-team F4).

One extra SoftHSM2 token, "KYSO KEYMATCH", is built here with softhsm2-util and pkcs11-tool (its
own process, as a CA's renewal tool would) in the demo's token store, and removed afterwards:

- id 01: an RSA key pair generated on the token + the certificate of ANOTHER RSA key: the
  private key shows its modulus, so the mismatch is seen when the key is opened;
- id 02: the same with P-256: an EC private key shows its curve but not its point, so the
  first signature is verified against the certificate before it may leave the token layer;
- id 03: two RSA private keys under one id and a certificate for each;
- id 04: the same with two P-256 keys. Whichever key the token lists first, one of the two
  certificates has its key second, so taking the first key under the id fails for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from agent.tokens import SignatureAlgorithm
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService

LABEL = "KYSO KEYMATCH"
PIN = "123456"  # the server harness's scripted PIN
SO_PIN = "12345678"
MST = "0101234567"  # HOSO's unit, so the bhxh profile's MST check passes
RSA256 = SignatureAlgorithm.RSA_PKCS1_SHA256
ES256 = SignatureAlgorithm.ECDSA_SHA256


@dataclass(frozen=True)
class Issued:
    """A certificate on the KYSO KEYMATCH token."""

    name: str
    thumbprint: str
    certificate: x509.Certificate


def new_key(kind: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def self_signed(name: str, key: CertificateIssuerPrivateKeyTypes) -> x509.Certificate:
    """A self-signed signing certificate (its revocation status is unknown: signing goes on)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Cong ty {name}"),
            x509.NameAttribute(NameOID.USER_ID, f"MST:{MST}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


class KeymixToken:
    """Builds the KYSO KEYMATCH token with the command-line tools, in their own processes."""

    def __init__(self, module: str, work: Path) -> None:
        self.module = module
        self.work = work
        self.issued: dict[str, Issued] = {}

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    def _tool(self, *args: str) -> None:
        self._run(
            "pkcs11-tool", "--module", self.module, "--token-label", LABEL, "--login",
            "--pin", PIN, *args,
        )  # fmt: skip

    def create(self) -> None:
        """The token and its four key ids (see the module's docstring)."""
        self._run(
            "softhsm2-util", "--init-token", "--free", "--label", LABEL,
            "--pin", PIN, "--so-pin", SO_PIN,
        )  # fmt: skip
        for key_id, kind, key_type in (("01", "RSA", "rsa:2048"), ("02", "EC", "EC:prime256v1")):
            # A key pair ON the token (private + public object), and the certificate of a key
            # that is nowhere on it, under the same id.
            self._tool("--keypairgen", "--key-type", key_type, "--id", key_id, "--label", "old")
            self._store_certificate(f"stale-{kind.lower()}", key_id, new_key(kind))
        for key_id, kind in (("03", "RSA"), ("04", "EC")):
            for which in ("1", "2"):
                key = new_key(kind)
                self._import_key(key, key_id, f"key{which}")
                self._store_certificate(f"two-{kind.lower()}-{which}", key_id, key)

    def _import_key(self, key: Any, key_id: str, label: str) -> None:
        """A software key written to the token: the private key, and its public key (which
        is what shows a key under this id before login)."""
        private = self.work / f"{key_id}-{label}.der"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public = self.work / f"{key_id}-{label}.pub.der"
        public.write_bytes(spki(key.public_key()))
        for path, kind in ((private, "privkey"), (public, "pubkey")):
            self._tool(
                "--write-object", str(path), "--type", kind, "--id", key_id, "--label", label,
                "--usage-sign",
            )  # fmt: skip

    def _store_certificate(self, name: str, key_id: str, key: Any) -> None:
        cert = self_signed(name, key)
        der = cert.public_bytes(serialization.Encoding.DER)
        path = self.work / f"{name}.der"
        path.write_bytes(der)
        self._tool("--write-object", str(path), "--type", "cert", "--id", key_id, "--label", name)
        self.issued[name] = Issued(name, hashlib.sha256(der).hexdigest(), cert)

    def delete(self) -> None:
        """Remove the token from the demo's store (if it was made at all)."""
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", LABEL], check=False, capture_output=True
        )


async def rescan(module: str) -> None:
    """Make this process's SoftHSM2 see the token store as it is now (re-initialised when idle,
    which is how the token layer notices a token inserted or removed)."""
    service = TokenService([ModuleCandidate(module, "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        await service.rescan()
    finally:
        await service.close()


@contextlib.contextmanager
def keymix_token(module: str, work: Path) -> Iterator[dict[str, Issued]]:
    """The KYSO KEYMATCH token's certificates by name (``work``: where the key and certificate
    files are written); the token is deleted afterwards. A test module's fixture holds it."""
    token = KeymixToken(module, work)
    try:
        token.create()
        asyncio.run(rescan(module))
        yield token.issued
    finally:
        token.delete()
        asyncio.run(rescan(module))


def verifies(cert: x509.Certificate, signature: bytes, data: bytes, *, digest: bool) -> bool:
    """An independent check (cryptography, not the code under test) that ``cert``'s key made
    ``signature`` over ``data`` (a SHA-256 digest when ``digest``)."""
    from cryptography.exceptions import InvalidSignature

    chosen: Any = Prehashed(hashes.SHA256()) if digest else hashes.SHA256()
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), chosen)
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(signature, data, ec.ECDSA(chosen))
    except InvalidSignature:
        return False
    return True


def algorithm_of(cert: x509.Certificate) -> SignatureAlgorithm:
    return RSA256 if isinstance(cert.public_key(), rsa.RSAPublicKey) else ES256


async def rescan_for_cli() -> None:
    """The CLI builds its own token service over the demo module; a module another test left
    loaded must see the KEYMATCH token first."""
    from agent.demo.tokens import load_manifest

    manifest = load_manifest()
    assert manifest is not None
    await rescan(manifest["module"])


def spki(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
