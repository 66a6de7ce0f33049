"""Fixtures for the CMS, raw-hash, challenge-token and certificate-validation tests."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.signing.signer import TokenSigner
from agent.signing.trust import TrustStore
from agent.tokens.pin import StaticPinProvider
from agent.tokens.service import TokenService


def demo_cert_der(demo: dict[str, Any], name: str) -> bytes:
    """DER bytes of a demo certificate by profile name."""
    pem = Path(demo["certificates"][name]["path"]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def revoking_trust(demo: dict[str, Any], name: str, revoked_at: dt.datetime) -> TrustStore:
    """The demo PKI as a relying party sees it once the issuing CA has revoked the demo
    certificate ``name`` at ``revoked_at`` (its key reported compromised then): a CRL of the
    real demo CA listing only that certificate, and the root's CRL."""
    from agent.demo.pki import TestCA

    ca = TestCA.load(Path(demo["ca"]["chain"]).parent)
    serial = x509.load_der_x509_certificate(demo_cert_der(demo, name)).serial_number
    crl = ca.issuing_crl([(serial, revoked_at)], number=1000)
    der = serialization.Encoding.DER
    root_crl = x509.load_pem_x509_crl(Path(demo["ca"]["root_crl"]).read_bytes())
    return TrustStore.from_certificates(
        [c.public_bytes(der) for c in (ca.root_cert, ca.issuing_cert)],
        [crl.public_bytes(der), root_crl.public_bytes(der)],
    )


def trust_arguments(trust: TrustStore, folder: Path) -> list[str]:
    """``--trust``/``--crl`` arguments (files written in ``folder``) holding what ``trust``
    holds, for the verify commands."""
    args = []
    for i, cert in enumerate([*trust.anchors, *trust.intermediates]):
        (folder / f"ca{i}.der").write_bytes(cert.dump())
        args += ["--trust", str(folder / f"ca{i}.der")]
    for i, crl in enumerate(trust.crls):
        (folder / f"crl{i}.der").write_bytes(crl.dump())
        args += ["--crl", str(folder / f"crl{i}.der")]
    return args


@pytest.fixture(scope="session")
def trust(demo: dict[str, Any]) -> TrustStore:
    """The demo PKI as a relying party configures it: root + issuing CA, both CRLs."""
    return TrustStore.from_files([demo["ca"]["chain"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]])


@contextlib.asynccontextmanager
async def token_signer(
    token_service: TokenService, demo: dict[str, Any], name: str
) -> AsyncIterator[TokenSigner]:
    """A logged-in SoftHSM2 key of a demo certificate, as the Signer every format uses."""
    cert = demo["certificates"][name]
    pins = {t["label"]: t["user_pin"] for t in demo["tokens"]}
    pin = StaticPinProvider(pins[cert["token"]])
    async with token_service.open_key(cert["thumbprint"], pin) as key:
        yield TokenSigner(key)
