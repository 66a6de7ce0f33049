"""A remote service's signature is checked against the credential's certificate before any
format uses it: ECDSA in DER or as r‖s (some services send that, and r‖s may begin with the
byte DER begins with), RSA PKCS#1 v1.5 and PSS; anything else is InvalidSignature."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from agent.signing.remote import _verify
from agent.tokens.algorithms import SignatureAlgorithm, ecdsa_der_to_raw, ecdsa_raw_to_der
from agent.tokens.certinfo import CertificateInfo, parse_certificate

DIGEST = hashlib.sha256(b"to be signed").digest()
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _info(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> CertificateInfo:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return parse_certificate(cert.public_bytes(serialization.Encoding.DER))


def _ec_sig(first_byte: int | None = None) -> bytes:
    """A DER ECDSA signature over DIGEST (whose r‖s form begins with ``first_byte``)."""
    while True:
        der = EC_KEY.sign(DIGEST, ec.ECDSA(Prehashed(hashes.SHA256())))
        if first_byte is None or ecdsa_der_to_raw(der, 256)[0] == first_byte:
            return der


def test_ecdsa_in_der_or_raw_verifies_and_comes_back_as_der() -> None:
    info, alg = _info(EC_KEY), SignatureAlgorithm.ECDSA_SHA256
    der = _ec_sig()
    assert _verify(info, der, DIGEST, alg) == der
    assert _verify(info, ecdsa_der_to_raw(der, 256), DIGEST, alg) == der
    like_der = ecdsa_der_to_raw(_ec_sig(0x30), 256)
    assert _verify(info, like_der, DIGEST, alg) == ecdsa_raw_to_der(like_der)


@pytest.mark.parametrize(
    "alg", [SignatureAlgorithm.RSA_PKCS1_SHA256, SignatureAlgorithm.RSA_PSS_SHA256]
)
def test_rsa_verifies(alg: SignatureAlgorithm) -> None:
    pad: padding.AsymmetricPadding = (
        padding.PSS(padding.MGF1(hashes.SHA256()), 32) if alg.is_pss else padding.PKCS1v15()
    )
    sig = RSA_KEY.sign(DIGEST, pad, Prehashed(hashes.SHA256()))
    assert _verify(_info(RSA_KEY), sig, DIGEST, alg) == sig


@pytest.mark.parametrize("which", ["ec", "ec-raw", "rsa", "other-key"])
def test_a_wrong_signature_is_refused(which: str) -> None:
    other = hashlib.sha256(b"something else").digest()
    if which == "rsa":
        sig = RSA_KEY.sign(other, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        info, alg = _info(RSA_KEY), SignatureAlgorithm.RSA_PKCS1_SHA256
    else:
        sig = EC_KEY.sign(other, ec.ECDSA(Prehashed(hashes.SHA256())))
        sig = ecdsa_der_to_raw(sig, 256) if which == "ec-raw" else sig
        info, alg = _info(EC_KEY), SignatureAlgorithm.ECDSA_SHA256
    if which == "other-key":
        info = _info(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(InvalidSignature):
        _verify(info, sig, DIGEST, alg)
