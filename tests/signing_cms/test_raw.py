"""Bare signatures over a hash, checked with `cryptography` against the certificate's key."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from agent.errors import KysoError
from agent.signing.raw import sign_hash
from agent.tokens.algorithms import SignatureAlgorithm

from .conftest import token_signer

DATA = "Hồ sơ 600 — Báo tăng lao động".encode()


@pytest.mark.parametrize(
    ("algorithm", "hash_name", "expected"),
    [
        (None, "sha256", SignatureAlgorithm.RSA_PKCS1_SHA256),
        (None, "sha512", SignatureAlgorithm.RSA_PKCS1_SHA512),
        (SignatureAlgorithm.RSA_PSS_SHA256, "sha256", SignatureAlgorithm.RSA_PSS_SHA256),
    ],
)
async def test_rsa_hash_signature(
    token_service: Any,
    demo: dict[str, Any],
    algorithm: SignatureAlgorithm | None,
    hash_name: str,
    expected: SignatureAlgorithm,
) -> None:
    digest = hashlib.new(hash_name, DATA).digest()
    async with token_signer(token_service, demo, "org") as signer:
        sig, used = await sign_hash(signer, digest, algorithm)
        key = signer.certificate.certificate.public_key()
    assert used is expected
    h = getattr(hashes, hash_name.upper())()
    pad = (
        padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
        if expected.is_pss
        else padding.PKCS1v15()
    )
    key.verify(sig, digest, pad, utils.Prehashed(h))  # type: ignore[union-attr,call-arg]
    key.verify(sig, DATA, pad, h)  # type: ignore[union-attr,call-arg]


async def test_ecdsa_hash_signature_is_der(token_service: Any, demo: dict[str, Any]) -> None:
    digest = hashlib.sha256(DATA).digest()
    async with token_signer(token_service, demo, "ec") as signer:
        sig, used = await sign_hash(signer, digest)
        key = signer.certificate.certificate.public_key()
    assert used is SignatureAlgorithm.ECDSA_SHA256
    utils.decode_dss_signature(sig)  # DER SEQUENCE {r, s}, not raw r ‖ s
    key.verify(sig, DATA, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]


async def test_wrong_digest_or_algorithm_is_refused(
    token_service: Any, demo: dict[str, Any]
) -> None:
    async with token_signer(token_service, demo, "org") as signer:
        for digest, alg in (
            (b"x" * 31, None),
            (b"x" * 32, SignatureAlgorithm.RSA_PKCS1_SHA384),
            (b"x" * 32, SignatureAlgorithm.ECDSA_SHA256),
        ):
            with pytest.raises(KysoError) as info:
                await sign_hash(signer, digest, alg)
            assert info.value.code == "INPUT_INVALID"
