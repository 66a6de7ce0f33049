"""Fixtures for the CMS, raw-hash, challenge-token and certificate-validation tests."""

from __future__ import annotations

import contextlib
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
