"""Web eID 1.0 authentication tokens made on SoftHSM2 and checked by the portal's validator."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from agent.errors import KysoError
from agent.signing import challenge
from agent.signing.challenge import create_auth_token, validate_auth_token
from agent.signing.trust import TrustStore

from .conftest import token_signer

ORIGIN = "https://dichvucong.kyso.test"
NONCE = "Zm9vYmFyLWJhei1xdXV4LTEyMzQ1Njc4OTAtYWJjZGVmZ2g"


async def _token(token_service: Any, demo: dict[str, Any], name: str, **kw: Any) -> dict[str, str]:
    async with token_signer(token_service, demo, name) as signer:
        return await create_auth_token(
            signer,
            origin=kw.pop("origin", ORIGIN),
            nonce=kw.pop("nonce", NONCE),
            app_version="https://kyso.test/agent/0.1",
            **kw,
        )


def _code(fn: Any) -> str:
    with pytest.raises(KysoError) as info:
        fn()
    return info.value.code


def _independent_check(token: dict[str, str], origin: str, nonce: str) -> None:
    """Verify a token the way Web eID's published validator does, without our validator."""
    cert = x509.load_der_x509_certificate(base64.b64decode(token["unverifiedCertificate"]))
    signed = hashlib.sha256(origin.encode()).digest() + hashlib.sha256(nonce.encode()).digest()
    sig = base64.b64decode(token["signature"])
    key = cert.public_key()
    if token["algorithm"] == "ES256":
        assert len(sig) == 64  # raw r ‖ s, as JOSE and Web eID carry it
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,union-attr]
    elif token["algorithm"] == "RS256":
        key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg,union-attr]
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        key.verify(sig, signed, pss, hashes.SHA256())  # type: ignore[call-arg,union-attr]


@pytest.mark.parametrize(
    ("name", "alg", "mst"), [("org", "RS256", "0101234567"), ("ec", "ES256", "8012345678")]
)
async def test_token_is_web_eid_1_0_and_validates(
    token_service: Any, demo: dict[str, Any], trust: TrustStore, name: str, alg: str, mst: str
) -> None:
    token = await _token(token_service, demo, name)
    assert set(token) == {"unverifiedCertificate", "algorithm", "signature", "format", "appVersion"}
    assert token["format"] == "web-eid:1.0" and token["algorithm"] == alg
    _independent_check(token, ORIGIN, NONCE)
    info = validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust)
    assert info.mst == mst


async def test_pss_token_validates(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    token = await _token(token_service, demo, "org", algorithm="PS256")
    _independent_check(token, ORIGIN, NONCE)
    assert validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust).mst


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_wrong_origin_nonce_or_signature_is_refused(
    token_service: Any, demo: dict[str, Any], trust: TrustStore, name: str
) -> None:
    token = await _token(token_service, demo, name)

    def check(t: dict[str, str], origin: str = ORIGIN, nonce: str = NONCE) -> str:
        return _code(
            lambda: validate_auth_token(t, expected_origin=origin, nonce=nonce, trust=trust)
        )

    assert (
        check(token, origin="https://dichvucong.kyso.test.evil.example") == "AUTH_SIGNATURE_INVALID"
    )
    assert check(token, origin="https://dichvucong.kyso.test:8443") == "AUTH_SIGNATURE_INVALID"
    assert check(token, nonce=NONCE[:-1] + "X") == "AUTH_SIGNATURE_INVALID"
    sig = bytearray(base64.b64decode(token["signature"]))
    sig[5] ^= 0x01
    tampered = {**token, "signature": base64.b64encode(bytes(sig)).decode()}
    assert check(tampered) == "AUTH_SIGNATURE_INVALID"
    truncated = {**token, "signature": base64.b64encode(bytes(sig[:-1])).decode()}
    assert check(truncated) == "AUTH_SIGNATURE_INVALID"


async def test_token_with_another_certificate_swapped_in_is_refused(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    token = await _token(token_service, demo, "org")
    other = await _token(token_service, demo, "branch")
    swapped = {**token, "unverifiedCertificate": other["unverifiedCertificate"]}
    assert (
        _code(
            lambda: validate_auth_token(swapped, expected_origin=ORIGIN, nonce=NONCE, trust=trust)
        )
        == "AUTH_SIGNATURE_INVALID"
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [("expired", "CERT_EXPIRED"), ("revoked", "CERT_REVOKED"), ("no_key_usage", "CERT_KEY_USAGE")],
)
async def test_bad_certificates_are_refused(
    token_service: Any, demo: dict[str, Any], trust: TrustStore, name: str, code: str
) -> None:
    token = await _token(token_service, demo, name)
    _independent_check(token, ORIGIN, NONCE)  # the signature itself is fine
    assert (
        _code(lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust))
        == code
    )


async def test_untrusted_ca_is_refused(token_service: Any, demo: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives import serialization

    from .test_trust import _foreign_ca

    store = TrustStore.from_certificates([_foreign_ca().public_bytes(serialization.Encoding.DER)])
    token = await _token(token_service, demo, "org")
    assert (
        _code(lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=store))
        == "CERT_UNTRUSTED"
    )


async def test_validation_time_is_honoured(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    token = await _token(token_service, demo, "org")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=5)
    assert (
        _code(
            lambda: validate_auth_token(
                token, expected_origin=ORIGIN, nonce=NONCE, trust=trust, at=past
            )
        )
        == "CERT_NOT_YET_VALID"
    )


@pytest.mark.parametrize(
    ("mutation", "code"),
    [
        ({"format": "web-eid:2"}, "AUTH_TOKEN_INVALID"),
        ({"format": "web-eid:1.00"}, "AUTH_TOKEN_INVALID"),
        ({"format": None}, "AUTH_TOKEN_INVALID"),
        ({"algorithm": "HS256"}, "AUTH_TOKEN_INVALID"),
        ({"algorithm": "none"}, "AUTH_TOKEN_INVALID"),
        ({"algorithm": 256}, "AUTH_TOKEN_INVALID"),
        ({"signature": "***"}, "AUTH_TOKEN_INVALID"),
        ({"signature": ""}, "AUTH_TOKEN_INVALID"),
        ({"unverifiedCertificate": ""}, "AUTH_TOKEN_INVALID"),
        ({"unverifiedCertificate": "bm90IGEgY2VydA=="}, "CERT_INVALID"),
    ],
)
async def test_malformed_tokens_get_a_stable_code(
    token_service: Any,
    demo: dict[str, Any],
    trust: TrustStore,
    mutation: dict[str, Any],
    code: str,
) -> None:
    token: dict[str, Any] = {**await _token(token_service, demo, "org"), **mutation}
    assert (
        _code(lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust))
        == code
    )


@pytest.mark.parametrize("token", [["web-eid:1.0"], "web-eid:1.0", None, 5])
def test_a_token_that_is_not_an_object_is_refused(trust: TrustStore, token: Any) -> None:
    assert (
        _code(lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust))
        == "AUTH_TOKEN_INVALID"
    )


async def test_the_portal_must_give_its_origin_and_nonce(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    # A portal misconfigured with a URL instead of its origin, or that lost its nonce, gets a
    # clear INPUT_INVALID, not a "bad signature" that would blame the user.
    token = await _token(token_service, demo, "org")
    for origin in (ORIGIN + "/", ORIGIN + "/dang-nhap", "dichvucong.kyso.test"):
        assert (
            _code(
                lambda o=origin: validate_auth_token(
                    token, expected_origin=o, nonce=NONCE, trust=trust
                )
            )
            == "INPUT_INVALID"
        ), origin
    assert (
        _code(lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce="", trust=trust))
        == "INPUT_INVALID"
    )


async def test_an_algorithm_that_does_not_fit_the_key_is_refused(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    def check(token: dict[str, str]) -> str:
        return _code(
            lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust)
        )

    ec_token = await _token(token_service, demo, "ec")
    for alg in ("RS256", "PS256", "ES384", "ES512"):
        assert check({**ec_token, "algorithm": alg}) == "AUTH_SIGNATURE_INVALID", alg
    rsa_token = await _token(token_service, demo, "org")
    for alg in ("ES256", "PS256"):
        assert check({**rsa_token, "algorithm": alg}) == "AUTH_SIGNATURE_INVALID", alg
    # The same r and s written with a zero byte in front of s: the numbers are equal, but a
    # JOSE signature has exactly one encoding (two 32-byte halves for ES256).
    sig = base64.b64decode(ec_token["signature"])
    padded = base64.b64encode(sig[:32] + b"\x00" + sig[32:]).decode()
    assert check({**ec_token, "signature": padded}) == "AUTH_SIGNATURE_INVALID"


def _software_token(key: ec.EllipticCurvePrivateKey, cert_der: bytes, jose: str) -> dict[str, str]:
    """A token signed with a software key (to reach validator rules a demo token cannot)."""
    hash_cls = {"ES256": hashes.SHA256, "ES384": hashes.SHA384}[jose]
    der = key.sign(challenge.signed_data(jose, ORIGIN, NONCE), ec.ECDSA(hash_cls()))
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return {
        "unverifiedCertificate": base64.b64encode(cert_der).decode(),
        "algorithm": jose,
        "signature": base64.b64encode(r.to_bytes(size, "big") + s.to_bytes(size, "big")).decode(),
        "format": "web-eid:1.0",
        "appVersion": "https://kyso.test/agent/0.1",
    }


def test_es384_is_bound_to_p384_and_signing_only_keys_cannot_log_in() -> None:
    from .test_trust import _key_usage, usage_pki

    key = ec.generate_private_key(ec.SECP256R1())
    leaf, store = usage_pki(_key_usage("digital_signature"), leaf_key=key)
    good = _software_token(key, leaf, "ES256")
    assert validate_auth_token(good, expected_origin=ORIGIN, nonce=NONCE, trust=store).mst
    # A P-256 key signing with SHA-384 is not ES384 (RFC 7518 binds ES384 to P-384).
    confused = _software_token(key, leaf, "ES384")
    assert (
        _code(
            lambda: validate_auth_token(confused, expected_origin=ORIGIN, nonce=NONCE, trust=store)
        )
        == "AUTH_SIGNATURE_INVALID"
    )
    # A certificate for signatures only (nonRepudiation) cannot authenticate.
    leaf, store = usage_pki(_key_usage("content_commitment"), leaf_key=key)
    token = _software_token(key, leaf, "ES256")
    assert (
        _code(lambda: validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=store))
        == "CERT_KEY_USAGE"
    )


async def test_format_1_minor_versions_are_accepted(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    token = {**await _token(token_service, demo, "org"), "format": "web-eid:1"}
    assert validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust).mst


@pytest.mark.parametrize(
    "origin",
    [
        "https://a.test/",
        "https://a.test/login",
        "http://a.test",
        "https://user@a.test",
        "https://a.test?x=1",
        "a.test",
        "https://",
        " https://a.test",
    ],
)
def test_only_real_origins_are_accepted(origin: str) -> None:
    assert _code(lambda: challenge.check_origin(origin)) == "INPUT_INVALID"


def test_loopback_http_and_ports_are_origins() -> None:
    for origin in ("http://127.0.0.1:8080", "http://localhost:3000", "https://a.test:8443"):
        assert challenge.check_origin(origin) == origin


async def test_short_nonce_is_refused_when_signing(
    token_service: Any, demo: dict[str, Any]
) -> None:
    with pytest.raises(KysoError) as info:
        await _token(token_service, demo, "org", nonce="1234")
    assert info.value.code == "INPUT_INVALID"


def test_parse_token_refuses_non_objects() -> None:
    assert _code(lambda: challenge.parse_token("[1]")) == "AUTH_TOKEN_INVALID"
    assert _code(lambda: challenge.parse_token("{")) == "AUTH_TOKEN_INVALID"
    assert challenge.parse_token('{"format": "web-eid:1.0"}') == {"format": "web-eid:1.0"}
    big = '{"format": "web-eid:1.0", "pad": "' + "A" * 70_000 + '"}'
    assert _code(lambda: challenge.parse_token(big)) == "AUTH_TOKEN_INVALID"
    assert _code(lambda: challenge.parse_token(big.encode())) == "AUTH_TOKEN_INVALID"


async def test_action_nonce_binds_the_action(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    action = {"action": "change_certificate", "mst": "0101234567", "ten": "Công ty Kyso"}
    nonce = challenge.action_nonce(action)
    assert nonce != challenge.action_nonce(action)  # random part differs every time
    assert challenge.nonce_binds(nonce, action)
    assert not challenge.nonce_binds(nonce, {**action, "mst": "0109876543"})
    assert not challenge.nonce_binds(challenge.new_nonce(), action)
    token = await _token(token_service, demo, "org", nonce=nonce)
    assert validate_auth_token(token, expected_origin=ORIGIN, nonce=nonce, trust=trust).mst
