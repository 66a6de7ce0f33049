"""Signing through the token layer on SoftHSM2, verified by cryptography."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from agent.tokens import SignatureAlgorithm, StaticPinProvider
from tests.conftest import cert_thumbprint


async def test_rsa_and_ec_signatures_verify(demo, token_service):
    for name, alg in (
        ("org", SignatureAlgorithm.RSA_PKCS1_SHA256),
        ("ec", SignatureAlgorithm.ECDSA_SHA256),
    ):
        pin = demo["tokens"][0]["user_pin"]
        async with token_service.open_key(
            cert_thumbprint(demo, name), StaticPinProvider(pin)
        ) as key:
            sig = await key.sign(b"xin chao", alg)
            pub = key.certificate.info.certificate.public_key()
            if name == "ec":
                pub.verify(sig, b"xin chao", ec.ECDSA(hashes.SHA256()))
            else:
                pub.verify(sig, b"xin chao", padding.PKCS1v15(), hashes.SHA256())
