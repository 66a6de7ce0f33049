"""What a remote-signing service answers, read as it means it: a credential listed twice is one
credential (one row, one credentials/info), and an RSA signature written without its leading
zero bytes (a service computing it as a big integer, about one signature in 256) is the same
signature, not "a signature that does not match the certificate"."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from agent.remote.directory import RemoteService
from agent.signing.remote import _verify
from agent.tokens.algorithms import SignatureAlgorithm
from agent.tokens.certinfo import parse_certificate
from tests.remote.hostile import EvilProvider, evil  # noqa: F401 - fixture


async def test_a_credential_listed_twice_is_one_credential(
    evil: EvilProvider,  # noqa: F811
) -> None:
    ids = ["kyso/org", "kyso/org", "kyso/ec", "kyso/org"]
    evil.answers["credentials/list"] = lambda request: (
        200,
        json.dumps({"credentialIDs": ids}).encode(),
    )
    service = RemoteService(evil.provider())
    try:
        listed = await service.client.list_credentials(interactive=False)
    finally:
        await service.close()
    assert listed == ["kyso/org", "kyso/ec"]  # in the service's order, each once


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ky tu xa")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, parse_certificate(cert.public_bytes(serialization.Encoding.DER))


def test_an_rsa_signature_without_its_leading_zero_byte_is_accepted() -> None:
    key, info = _key_and_certificate()
    for i in range(20_000):  # a signature starts with 0x00 about once in 256
        digest = hashlib.sha256(b"%d" % i).digest()
        signature = key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        if signature[0] == 0:
            break
    assert signature[0] == 0
    short = signature.lstrip(b"\x00")
    accepted = _verify(info, short, digest, SignatureAlgorithm.RSA_PKCS1_SHA256)
    assert accepted == signature  # embedded at the modulus' length, as PKCS #1 writes it
