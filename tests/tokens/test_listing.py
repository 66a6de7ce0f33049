"""Listing tokens and certificates on real SoftHSM2, with the identifiers parsed from them."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography import x509

from agent.errors import KysoError
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN1, TOKEN2


async def test_both_demo_tokens_are_listed_with_their_state(demo, token_service):
    tokens = {t.label: t for t in await token_service.list_tokens()}
    assert set(tokens) >= {TOKEN1, TOKEN2}
    for token in tokens.values():
        assert token.serial and token.module == demo["module"]
        assert token.login_required and not token.protected_path
        assert not token.pin_state.locked
        json = token.to_json()
        assert json["label"] == token.label and json["serial"] == token.serial
    assert tokens[TOKEN1].serial != tokens[TOKEN2].serial


@pytest.fixture
async def certs(token_service) -> dict[str, Any]:
    """Certificates on the demo tokens by thumbprint."""
    return {c.thumbprint: c for c in await token_service.list_certificates()}


# (demo profile, token, MST, CCCD, key type) — one row per way a Vietnamese CA writes an id.
PROFILES = [
    ("org", TOKEN1, "0101234567", None, "RSA"),  # UID=MST:
    ("branch", TOKEN1, "0101234567-001", None, "RSA"),  # a branch keeps the -001 suffix
    ("personal", TOKEN1, None, "001190012345", "RSA"),  # UID=CCCD:
    ("org_in_o", TOKEN1, "0109876543", None, "RSA"),  # MST: in O=, not UID
    ("ec", TOKEN1, "8012345678", None, "EC"),
    ("org_renewed", TOKEN2, "0101234567", None, "RSA"),  # same unit, second token
]


@pytest.mark.parametrize(("name", "token", "mst", "cccd", "key_type"), PROFILES)
async def test_each_demo_certificate_is_parsed(demo, certs, name, token, mst, cccd, key_type):
    cert = certs[cert_thumbprint(demo, name)]
    info = cert.info
    assert cert.token.label == token
    assert (info.mst, info.cccd, info.key_type) == (mst, cccd, key_type)
    assert cert.has_private_key is True
    assert cert.label == name
    # The parsed fields agree with an independent parse of the DER read from the token.
    parsed = x509.load_der_x509_certificate(info.der)
    assert info.thumbprint == hashlib.sha256(info.der).hexdigest()
    assert info.serial == format(parsed.serial_number, "x")
    assert info.subject == parsed.subject.rfc4514_string()
    assert info.issuer_cn == "Kyso Test Issuing CA"
    if key_type == "EC":
        assert (info.key_size, info.curve) == (256, "secp256r1")
    else:
        assert (info.key_size, info.curve) == (2048, None)
    assert "digital_signature" in info.key_usage and not info.is_ca


async def test_vietnamese_names_keep_their_diacritics(demo, certs):
    org = certs[cert_thumbprint(demo, "org")].info
    assert org.subject_cn == "Công ty TNHH Giải pháp Kyso Việt Nam"
    assert "Hà Nội" in org.subject
    assert certs[cert_thumbprint(demo, "personal")].info.subject_cn == "Nguyễn Thị Hồng Nhung"
    # Where the MST is in O=, the display name shows it so a person can tell units apart.
    assert "MST:0109876543" in certs[cert_thumbprint(demo, "org_in_o")].info.subject_display


async def test_ca_certificate_object_has_no_private_key(certs):
    ca = [c for c in certs.values() if c.info.is_ca]
    assert len(ca) == 1
    assert ca[0].has_private_key is False
    assert ca[0].info.subject_cn == "Kyso Test Issuing CA"
    assert "CA_CERTIFICATE" in ca[0].info.problems()


async def test_flawed_demo_certificates_report_their_problem(demo, certs):
    def problems(name: str) -> list[str]:
        return certs[cert_thumbprint(demo, name)].info.problems()

    assert problems("expired") == ["EXPIRED"]
    assert problems("not_yet_valid") == ["NOT_YET_VALID"]
    assert problems("no_key_usage") == ["NO_SIGNING_KEY_USAGE"]
    assert problems("org") == []
    # Revocation needs the CRL, which is the signing library's job, not the token listing's.
    assert problems("revoked") == []


async def test_every_manifest_certificate_is_on_its_token(demo, certs):
    for name, entry in demo["certificates"].items():
        cert = certs[entry["thumbprint"]]
        assert cert.token.label == entry["token"], name
        assert cert.info.not_after == entry["not_after"]


async def test_find_certificate_accepts_colons_and_upper_case(demo, token_service):
    thumb = cert_thumbprint(demo, "org")
    spaced = ":".join(thumb[i : i + 2] for i in range(0, len(thumb), 2)).upper()
    assert (await token_service.find_certificate(spaced)).thumbprint == thumb
    with pytest.raises(KysoError) as err:
        await token_service.find_certificate("00" * 32)
    assert err.value.code == "CERT_NOT_FOUND"


async def test_opening_the_ca_certificate_says_key_not_found(token_service):
    from agent.tokens import StaticPinProvider

    ca = next(c for c in await token_service.list_certificates() if c.info.is_ca)
    pins = StaticPinProvider("123456")
    with pytest.raises(KysoError) as err:
        async with token_service.open_key(ca, pins):
            pass
    assert err.value.code == "KEY_NOT_FOUND"
    assert pins.requests == []  # no PIN asked for a key that is not there
