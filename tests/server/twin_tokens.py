"""Two SoftHSM2 tokens holding ONE certificate and its key (a backup copy, as users keep).

"KYSO TWIN A" and "KYSO TWIN B" are built in the demo's token store with softhsm2-util and
pkcs11-tool (their own processes), each with its own PIN, and removed afterwards. The demo's
issuing CA issues the certificate (agent.demo.pki, as for the demo tokens' certificates); its
key is made here, in software, since both tokens must hold the same one.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from agent.demo.pki import Profile, TestCA
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService

LABEL_A, PIN_A = "KYSO TWIN A", "314159"
LABEL_B, PIN_B = "KYSO TWIN B", "271828"
SO_PIN = "12345678"


@dataclass(frozen=True)
class Twins:
    """The shared certificate: its thumbprint, DER, and each token's serial."""

    thumbprint: str
    der: bytes
    serials: dict[str, str]  # label -> serial


# The certificate's holder; validity and key usage are the demo profiles' (a signing
# certificate, valid from yesterday), for 60 days from now.
PROFILE = Profile(
    "twin",
    token=0,  # on neither demo token: on both twins
    key_id=1,
    subject=x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.COMMON_NAME, "NGUYỄN VĂN AN (bản sao)"),
            x509.NameAttribute(NameOID.USER_ID, "MST:0109876543"),
        ]
    ),
    valid_days=61,
    description="one certificate and its key on two tokens (a backup copy)",
)


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def build(module: str, ca: TestCA, work: Path) -> Twins:
    """Both tokens, each with the same private key, public key and certificate under id 01."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = ca.issue(PROFILE, key.public_key(), x509.random_serial_number())
    der = cert.public_bytes(serialization.Encoding.DER)
    files = {
        "privkey": key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "pubkey": key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "cert": der,
    }
    for kind, data in files.items():
        (work / f"twin.{kind}").write_bytes(data)
    for label, pin in ((LABEL_A, PIN_A), (LABEL_B, PIN_B)):
        _run(
            "softhsm2-util", "--init-token", "--free", "--label", label,
            "--pin", pin, "--so-pin", SO_PIN,
        )  # fmt: skip
        for kind in files:
            _run(
                "pkcs11-tool", "--module", module, "--token-label", label, "--login",
                "--pin", pin, "--write-object", str(work / f"twin.{kind}"), "--type", kind,
                "--id", "01", "--label", "twin", *(["--usage-sign"] if kind == "privkey" else []),
            )  # fmt: skip
    return Twins(hashlib.sha256(der).hexdigest(), der, {})


def delete() -> None:
    """Remove both tokens from the demo's store (those that were made)."""
    for label in (LABEL_A, LABEL_B):
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", label], check=False, capture_output=True
        )


async def _rescan(module: str) -> dict[str, str]:
    """Make this process's SoftHSM2 see the store as it is now; the tokens' serials by label."""
    service = TokenService([ModuleCandidate(module, "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        await service.rescan()
        return {t.label: t.serial for t in await service.list_tokens()}
    finally:
        await service.close()


@pytest.fixture(scope="module")
def twins(demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twins]:
    """KYSO TWIN A and KYSO TWIN B, one certificate on both; removed after the module."""
    delete()  # left over by an interrupted run
    try:
        ca = TestCA.load(Path(demo["ca"]["issuing"]).parent)
        made = build(demo["module"], ca, tmp_path_factory.mktemp("twins"))
        serials = asyncio.run(_rescan(demo["module"]))
        yield Twins(made.thumbprint, made.der, {k: serials[k] for k in (LABEL_A, LABEL_B)})
    finally:
        delete()
        asyncio.run(_rescan(demo["module"]))
