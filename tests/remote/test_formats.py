"""Every format signed with a remote key (CSC, on the loopback test service) and verified by the
same independent verifiers as token signatures: xmlsec1, openssl cms, poppler's pdfsig,
cryptography for a bare hash, and the Web eID check for a challenge."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from agent.demo.remote import DEMO_PIN
from agent.remote.directory import RemoteCredential, RemoteService
from agent.signing.challenge import create_auth_token, validate_auth_token
from agent.signing.cms import sign_cms, verify_cms
from agent.signing.pdf import PdfSignOptions, sign_pdf
from agent.signing.raw import sign_hash
from agent.signing.trust import TrustStore
from agent.signing.xml import sign_xml
from agent.signing.xml.verify import verify_xml
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import SmsPrompter, remote_signer
from tests.signing_cms.test_challenge import NONCE, ORIGIN, _independent_check
from tests.signing_cms.test_cms import DATA, openssl_verify
from tests.signing_pdf.conftest import make_pdf, pdfsig
from tests.signing_xml.helpers import GENERIC, HOSO, xmlsec_verify


async def test_listing_shows_remote_credentials_beside_tokens(
    credentials: dict[str, RemoteCredential],
) -> None:
    assert set(credentials) == {"org", "personal_otp", "ec", "revoked"}
    org = credentials["org"].to_json()
    assert org["source"] == "remote:demo" and org["mst"] == "0101234567"
    assert org["issuer_cn"] == "Kyso Test Issuing CA"  # issued by the demo PKI
    assert org["needs_pin"] and not org["needs_otp"] and org["remote_status"] == "enabled"
    assert credentials["personal_otp"].to_json()["needs_otp"]
    revoked = credentials["revoked"].to_json()
    assert revoked["remote_status"] == "disabled" and "REMOTE_DISABLED" in revoked["problems"]


@pytest.mark.parametrize(
    ("label", "doc", "profile"), [("org", HOSO, "bhxh"), ("ec", GENERIC, "generic")]
)
async def test_xml_signed_remotely_verifies_with_xmlsec1_and_kyso(
    service: RemoteService,
    credentials: dict[str, RemoteCredential],
    demo: dict[str, Any],
    trust: TrustStore,
    xmlsec1: str,
    tmp_path: Path,
    label: str,
    doc: bytes,
    profile: str,
) -> None:
    signed = await sign_xml(doc, remote_signer(service, credentials[label]), profile)
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    proc = xmlsec_verify(xmlsec1, demo, path)
    assert proc.returncode == 0, proc.stderr
    result = verify_xml(signed, trust, profile=profile)
    assert result.signer.thumbprint == credentials[label].info.thumbprint


async def test_otp_credential_asks_pin_and_otp_in_the_agents_prompt(
    csc: Any,
    service: RemoteService,
    credentials: dict[str, RemoteCredential],
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
) -> None:
    prompter = SmsPrompter(csc.server)
    signed = await sign_xml(HOSO, remote_signer(service, credentials["personal_otp"], prompter))
    (tmp_path / "s.xml").write_bytes(signed)
    assert xmlsec_verify(xmlsec1, demo, tmp_path / "s.xml").returncode == 0
    [asked] = prompter.requests
    assert asked.need_pin and asked.need_otp and asked.otp_online
    assert asked.provider == "Dịch vụ ký số từ xa (thử nghiệm)"  # from config, not the service
    assert asked.certificate.thumbprint == credentials["personal_otp"].info.thumbprint
    assert asked.signatures == 1


@pytest.mark.parametrize("label", ["org", "ec"])
async def test_cms_signed_remotely_verifies_with_openssl(
    service: RemoteService,
    credentials: dict[str, RemoteCredential],
    demo: dict[str, Any],
    trust: TrustStore,
    openssl: str,
    tmp_path: Path,
    label: str,
) -> None:
    sig = await sign_cms(remote_signer(service, credentials[label]), data=DATA, detached=True)
    proc = openssl_verify(openssl, demo, sig, tmp_path, DATA)
    assert proc.returncode == 0, proc.stderr.decode()
    assert verify_cms(sig, trust, data=DATA).signer.thumbprint == credentials[label].info.thumbprint


async def test_pdf_signed_remotely_is_valid_for_pdfsig(
    service: RemoteService, credentials: dict[str, RemoteCredential], tmp_path: Path
) -> None:
    result = await sign_pdf(
        make_pdf(), remote_signer(service, credentials["org"]), PdfSignOptions()
    )
    out = tmp_path / "signed.pdf"
    out.write_bytes(result.document)
    report = pdfsig(out)
    assert "Signature is Valid" in report, report


@pytest.mark.parametrize(
    ("label", "algorithm"),
    [
        ("org", None),
        ("org", SignatureAlgorithm.RSA_PSS_SHA256),
        ("org", SignatureAlgorithm.RSA_PKCS1_SHA512),
        ("ec", None),
    ],
)
async def test_raw_hash_signed_remotely_verifies_with_the_certificate_key(
    service: RemoteService,
    credentials: dict[str, RemoteCredential],
    label: str,
    algorithm: SignatureAlgorithm | None,
) -> None:
    hash_name = algorithm.hash_name if algorithm else "sha256"
    digest = hashlib.new(hash_name, DATA).digest()
    signer = remote_signer(service, credentials[label])
    sig, used = await sign_hash(signer, digest, algorithm)
    key = signer.certificate.certificate.public_key()
    h = {"sha256": hashes.SHA256(), "sha512": hashes.SHA512()}[hash_name]
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, digest, ec.ECDSA(utils.Prehashed(h)))
    elif used.is_pss:
        key.verify(sig, digest, padding.PSS(padding.MGF1(h), len(digest)), utils.Prehashed(h))
    else:
        key.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(h))


@pytest.mark.parametrize("label", ["org", "ec"])
async def test_challenge_token_signed_remotely_validates(
    service: RemoteService,
    credentials: dict[str, RemoteCredential],
    trust: TrustStore,
    label: str,
) -> None:
    token = await create_auth_token(
        remote_signer(service, credentials[label]),
        origin=ORIGIN,
        nonce=NONCE,
        app_version="https://kyso.test/agent/0.1",
    )
    _independent_check(token, ORIGIN, NONCE)
    info = validate_auth_token(token, expected_origin=ORIGIN, nonce=NONCE, trust=trust)
    assert info.thumbprint == credentials[label].info.thumbprint


async def test_one_operation_asks_the_pin_once(
    service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    from agent.remote.prompt import StaticCredentialPrompter

    prompter = StaticCredentialPrompter(DEMO_PIN)
    signer = remote_signer(service, credentials["org"], prompter)
    for _ in range(3):
        await signer.sign(DATA, SignatureAlgorithm.RSA_PKCS1_SHA256)
    assert len(prompter.requests) == 1 and signer.authorizations == 3
