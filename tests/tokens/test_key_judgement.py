"""The pure judgement behind "a certificate signs only with ITS key" (agent/tokens/keymatch.py):
what a private or public key object shows against the certificate's public key, the listing's
forecast, the order keys are tried in, and the signature check for each algorithm. No token:
the SoftHSM2 cases are tests/tokens/test_key_match.py.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from agent.errors import KysoError
from agent.tokens import SignatureAlgorithm
from agent.tokens.keymatch import (
    KeyFacts,
    Verdict,
    choose,
    judge,
    listing_mismatch,
    signature_verifies,
)
from tests.tokens.keymix import new_key, self_signed, spki

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
EC_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()


def _modulus(key: rsa.RSAPublicKey) -> bytes:
    n = key.public_numbers().n
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _named(curve_oid: str) -> bytes:
    from asn1crypto import keys

    return keys.ECDomainParameters({"named": curve_oid}).dump()


@pytest.mark.parametrize(
    ("cert_key", "facts", "verdict"),
    [
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), b"\x01\x00\x01"), Verdict.MATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(OTHER_RSA), b"\x01\x00\x01"), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), b"\x03"), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), None), Verdict.MATCH),
        (RSA_KEY, KeyFacts("RSA"), Verdict.UNKNOWN),  # modulus hidden: prove by signature
        (RSA_KEY, KeyFacts("EC", ec_params=_named("secp256r1")), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts(None, public_key_info=spki(OTHER_RSA)), Verdict.MISMATCH),
        (RSA_KEY, KeyFacts(None, public_key_info=spki(RSA_KEY)), Verdict.MATCH),
        (RSA_KEY, KeyFacts("RSA", _modulus(RSA_KEY), public_key_info=b"junk"), Verdict.MATCH),
        (EC_KEY, KeyFacts("EC", ec_params=_named("secp256r1")), Verdict.UNKNOWN),
        (EC_KEY, KeyFacts("EC", ec_params=_named("secp384r1")), Verdict.MISMATCH),
        (EC_KEY, KeyFacts("EC"), Verdict.UNKNOWN),
        (EC_KEY, KeyFacts("RSA", _modulus(RSA_KEY)), Verdict.MISMATCH),
        (EC_KEY, KeyFacts("EC", public_key_info=spki(EC_KEY)), Verdict.MATCH),
        (EC_KEY, KeyFacts("EC", public_key_info=spki(OTHER_RSA)), Verdict.MISMATCH),
    ],
)
def test_judge_reads_what_the_private_key_shows(cert_key, facts, verdict):
    assert judge(cert_key, facts) is verdict


def _point(key: Any, *, wrapped: bool = True) -> bytes:
    from asn1crypto.core import OctetString

    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return OctetString(raw).dump() if wrapped else raw


OTHER_EC = ec.generate_private_key(ec.SECP256R1()).public_key()


@pytest.mark.parametrize(
    ("facts", "verdict"),
    [
        (KeyFacts("EC", ec_params=_named("secp256r1"), ec_point=_point(EC_KEY)), Verdict.MATCH),
        (KeyFacts("EC", ec_point=_point(EC_KEY, wrapped=False)), Verdict.MATCH),
        (
            KeyFacts("EC", ec_params=_named("secp256r1"), ec_point=_point(OTHER_EC)),
            Verdict.MISMATCH,
        ),
        (KeyFacts("EC", ec_point=_point(OTHER_EC, wrapped=False)), Verdict.MISMATCH),
        (KeyFacts("EC", ec_params=_named("secp384r1"), ec_point=_point(EC_KEY)), Verdict.MISMATCH),
        (KeyFacts("EC", ec_point=b"\x30\x00"), Verdict.UNKNOWN),  # not a point: say nothing
    ],
)
def test_judge_reads_the_point_a_public_key_object_shows(facts, verdict):
    assert judge(EC_KEY, facts) is verdict


def test_a_listing_forecasts_a_mismatch_only_when_every_key_shows_another():
    mine = KeyFacts("RSA", _modulus(RSA_KEY), b"\x01\x00\x01")
    other = KeyFacts("RSA", _modulus(OTHER_RSA), b"\x01\x00\x01")
    assert listing_mismatch(RSA_KEY, [other]) is True
    assert listing_mismatch(RSA_KEY, [other, other]) is True
    assert listing_mismatch(RSA_KEY, [other, mine]) is False  # two keys under one id
    assert listing_mismatch(RSA_KEY, [other, KeyFacts("RSA")]) is False  # one shows nothing
    assert listing_mismatch(RSA_KEY, []) is False  # no key at all is not a mismatch


def test_choose_tries_matching_keys_first_and_refuses_when_none_can_match():
    from agent.tokens.certinfo import parse_certificate
    from agent.tokens.model import TokenCertificate

    der = self_signed("X", new_key("EC")).public_bytes(serialization.Encoding.DER)
    token: Any = None  # choose() reads only the certificate's own fields
    cert = TokenCertificate(token, parse_certificate(der), "", b"\x07", has_private_key=True)
    judged = [
        ("a", Verdict.UNKNOWN),
        ("b", Verdict.MISMATCH),
        ("c", Verdict.MATCH),
        ("d", Verdict.UNKNOWN),
    ]
    assert choose(cert, judged) == ["c", "a", "d"]
    with pytest.raises(KysoError) as err:
        choose(cert, [("a", Verdict.MISMATCH), ("b", Verdict.MISMATCH)])
    assert err.value.code == "KEY_CERT_MISMATCH" and err.value.details["key_id"] == "07"


@pytest.mark.parametrize(
    "algorithm",
    [
        SignatureAlgorithm.RSA_PKCS1_SHA256,
        SignatureAlgorithm.RSA_PKCS1_SHA1,
        SignatureAlgorithm.RSA_PSS_SHA384,
    ],
)
def test_signature_check_follows_the_algorithm(algorithm):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    h = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[
        algorithm.hash_name
    ]
    pad: Any = (
        padding.PSS(padding.MGF1(h), algorithm.digest_size)
        if algorithm.is_pss
        else padding.PKCS1v15()
    )
    data = b"payload"
    signature = key.sign(data, pad, h)
    assert signature_verifies(key.public_key(), algorithm, data, signature, is_digest=False)
    digest = hashlib.new(algorithm.hash_name, data).digest()
    assert signature_verifies(key.public_key(), algorithm, digest, signature, is_digest=True)
    assert not signature_verifies(OTHER_RSA, algorithm, data, signature, is_digest=False)
    assert not signature_verifies(EC_KEY, algorithm, data, signature, is_digest=False)
