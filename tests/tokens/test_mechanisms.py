"""Every signature mechanism on real SoftHSM2 keys, each signature verified by cryptography.

SoftHSM2 lists combined mechanisms (CKM_SHA256_RSA_PKCS...), the raw ones (CKM_RSA_PKCS,
CKM_RSA_PKCS_PSS, CKM_ECDSA) but no CKM_ECDSA_SHA256, so the layer's planning is exercised on
both sides. Tokens that list only CKM_RSA_PKCS are reproduced by narrowing the mechanism list
the layer read from the token (the one thing SoftHSM2 cannot be told to hide).
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pkcs11 import Mechanism

from agent.errors import KysoError
from agent.tokens import SignatureAlgorithm as A
from agent.tokens import StaticPinProvider
from agent.tokens.mechanisms import Input, digest_info, plan_signature
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN1, pin_of

DATA = "Hồ sơ BHXH mã thủ tục 600 — kỳ kê khai 11/2026".encode()
HASHES = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384}
HASHES["sha512"] = hashes.SHA512

RSA_ALGS = [a for a in A if a.key_kind.value == "RSA"]
EC_ALGS = [a for a in A if a.key_kind.value == "EC"]


def verify(public_key, signature: bytes, alg: A) -> None:
    """Raise InvalidSignature unless ``signature`` is ``alg`` over DATA."""
    h = HASHES[alg.hash_name]()
    if alg.key_kind.value == "EC":
        public_key.verify(signature, DATA, ec.ECDSA(h))
    elif alg.is_pss:
        # The layer uses the digest length as the salt length, as XML-DSig and CMS expect.
        pss = padding.PSS(mgf=padding.MGF1(h), salt_length=alg.digest_size)
        public_key.verify(signature, DATA, pss, h)
    else:
        public_key.verify(signature, DATA, padding.PKCS1v15(), h)


async def test_every_rsa_mechanism_through_sign_and_sign_digest(demo, token_service):
    pins = StaticPinProvider(pin_of(demo, TOKEN1))
    async with token_service.open_key(cert_thumbprint(demo, "org"), pins) as key:
        public = key.certificate.info.certificate.public_key()
        for alg in RSA_ALGS:
            verify(public, await key.sign(DATA, alg), alg)
            digest_value = hashlib.new(alg.hash_name, DATA).digest()
            verify(public, await key.sign_digest(digest_value, alg), alg)
    assert len(pins.requests) == 1  # one PIN for the whole session


async def test_every_ecdsa_mechanism_through_sign_and_sign_digest(demo, token_service):
    pins = StaticPinProvider(pin_of(demo, TOKEN1))
    async with token_service.open_key(cert_thumbprint(demo, "ec"), pins) as key:
        public = key.certificate.info.certificate.public_key()
        for alg in EC_ALGS:
            signature = await key.sign(DATA, alg)
            verify(public, signature, alg)
            decode_dss_signature(signature)  # DER, as X.509 and XML-DSig tools expect
            digest_value = hashlib.new(alg.hash_name, DATA).digest()
            verify(public, await key.sign_digest(digest_value, alg), alg)


async def test_token_with_only_ckm_rsa_pkcs_signs_through_digest_info(demo, token_service):
    cert = await token_service.find_certificate(cert_thumbprint(demo, "org"))
    assert Mechanism.SHA256_RSA_PKCS in cert.token.mechanisms  # SoftHSM2 has it...
    narrowed = dataclasses.replace(
        cert, token=dataclasses.replace(cert.token, mechanisms=frozenset({Mechanism.RSA_PKCS}))
    )  # ...a token that lists only the raw mechanism does not
    pins = StaticPinProvider(pin_of(demo, TOKEN1))
    async with token_service.open_key(narrowed, pins) as key:
        public = cert.info.certificate.public_key()
        for alg in (A.RSA_PKCS1_SHA1, A.RSA_PKCS1_SHA256, A.RSA_PKCS1_SHA512):
            verify(public, await key.sign(DATA, alg), alg)
        with pytest.raises(KysoError) as err:  # no PSS mechanism at all on that token
            await key.sign(DATA, A.RSA_PSS_SHA256)
        assert err.value.code == "MECHANISM_UNSUPPORTED"
        assert err.value.details["algorithm"] == "RSA_PSS_SHA256"


async def test_nothing_fits_means_mechanism_unsupported_not_a_token_error(demo, token_service):
    cert = await token_service.find_certificate(cert_thumbprint(demo, "ec"))
    bare = dataclasses.replace(
        cert, token=dataclasses.replace(cert.token, mechanisms=frozenset({Mechanism.RSA_PKCS}))
    )
    async with token_service.open_key(bare, StaticPinProvider(pin_of(demo, TOKEN1))) as key:
        for call in (key.sign(DATA, A.ECDSA_SHA256), key.sign_digest(b"\0" * 32, A.ECDSA_SHA256)):
            with pytest.raises(KysoError) as err:
                await call
            assert err.value.code == "MECHANISM_UNSUPPORTED"


async def test_wrong_digest_length_and_wrong_key_kind_are_input_invalid(demo, token_service):
    pins = StaticPinProvider(pin_of(demo, TOKEN1))
    async with token_service.open_key(cert_thumbprint(demo, "org"), pins) as key:
        with pytest.raises(KysoError) as err:
            await key.sign_digest(hashlib.sha1(DATA).digest(), A.RSA_PKCS1_SHA256)
        assert err.value.code == "INPUT_INVALID"
        assert "32 bytes, got 20" in err.value.details["detail"]
        with pytest.raises(KysoError) as err:
            await key.sign(DATA, A.ECDSA_SHA256)  # an EC algorithm on an RSA key
        assert err.value.code == "INPUT_INVALID"
        # The session is still good after refusing bad input.
        verify(
            key.certificate.info.certificate.public_key(),
            await key.sign(DATA, A.RSA_PKCS1_SHA256),
            A.RSA_PKCS1_SHA256,
        )


# ---- planning, pure ----------------------------------------------------------------------

SOFTHSM_LIKE = frozenset(
    {
        Mechanism.RSA_PKCS,
        Mechanism.SHA256_RSA_PKCS,
        Mechanism.RSA_PKCS_PSS,
        Mechanism.SHA256_RSA_PKCS_PSS,
        Mechanism.ECDSA,
    }
)


def test_plan_for_a_token_listing_only_ckm_rsa_pkcs():
    only_raw = frozenset({Mechanism.RSA_PKCS})
    for alg in (A.RSA_PKCS1_SHA1, A.RSA_PKCS1_SHA256, A.RSA_PKCS1_SHA384, A.RSA_PKCS1_SHA512):
        for have_data in (True, False):
            plan = plan_signature(alg, only_raw, have_data)
            assert (plan.mechanism, plan.input) == (Mechanism.RSA_PKCS, Input.DIGEST_INFO)
    for alg in (A.RSA_PSS_SHA256, A.ECDSA_SHA256):
        with pytest.raises(KysoError) as err:
            plan_signature(alg, only_raw, True)
        assert err.value.code == "MECHANISM_UNSUPPORTED"


def test_plan_prefers_the_combined_mechanism_for_data_and_raw_for_a_digest():
    plan = plan_signature(A.RSA_PKCS1_SHA256, SOFTHSM_LIKE, True)
    assert (plan.mechanism, plan.input) == (Mechanism.SHA256_RSA_PKCS, Input.DATA)
    plan = plan_signature(A.RSA_PKCS1_SHA256, SOFTHSM_LIKE, False)
    assert (plan.mechanism, plan.input) == (Mechanism.RSA_PKCS, Input.DIGEST_INFO)
    pss = plan_signature(A.RSA_PSS_SHA384, SOFTHSM_LIKE, True)
    assert (pss.mechanism, pss.input) == (Mechanism.RSA_PKCS_PSS, Input.DIGEST)
    assert pss.param is not None and pss.param[2] == 48  # salt = digest length
    ecdsa = plan_signature(A.ECDSA_SHA256, SOFTHSM_LIKE, True)
    assert (ecdsa.mechanism, ecdsa.input, ecdsa.ecdsa_raw_output) == (
        Mechanism.ECDSA,
        Input.DIGEST,
        True,
    )


def test_plan_uses_combined_only_mechanisms_when_data_is_at_hand():
    combined = frozenset({Mechanism.ECDSA_SHA256, Mechanism.SHA512_RSA_PKCS_PSS})
    assert plan_signature(A.ECDSA_SHA256, combined, True).input is Input.DATA
    assert plan_signature(A.RSA_PSS_SHA512, combined, True).input is Input.DATA
    for alg in (A.ECDSA_SHA256, A.RSA_PSS_SHA512):  # a bare digest cannot go through them
        with pytest.raises(KysoError):
            plan_signature(alg, combined, False)
    with pytest.raises(KysoError):
        plan_signature(A.RSA_PKCS1_SHA256, frozenset(), True)


def test_digest_info_is_the_rfc_8017_encoding():
    # RFC 8017 §9.2 note 1 gives the DER prefix for SHA-256.
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    value = hashlib.sha256(DATA).digest()
    assert digest_info(A.RSA_PKCS1_SHA256, value) == prefix + value


def test_jose_names_round_trip():
    for alg in A:
        assert A.from_jose(alg.jose_name) is alg
    assert A.RSA_PKCS1_SHA256.jose_name == "RS256"
    assert A.RSA_PSS_SHA512.jose_name == "PS512"
    assert A.ECDSA_SHA384.jose_name == "ES384"
    with pytest.raises(KysoError) as err:
        A.from_jose("HS256")
    assert err.value.code == "INPUT_INVALID"
