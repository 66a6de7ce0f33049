"""verify_cms checks every CAdES-T signature timestamp, not only the CMS signature.

A token whose own signature was altered, a token stamping another signature, a token from an
authority the trust store does not know and one from a certificate without id-kp-timeStamping
all fail; a sound token's time and authority are reported (API, text and --json).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.cms import sign_cms, verify_cms
from agent.signing.trust import TrustStore
from tests.signing_cms.conftest import token_signer

DATA = "Tờ khai TK1-TS — dấu thời gian".encode()
TSA_CN = "Kyso Test Timestamp Authority"


def _signer_info(der: bytes) -> cms.SignerInfo:
    return cms.ContentInfo.load(der)["content"]["signer_infos"][0]


def _token(der: bytes) -> cms.ContentInfo:
    attrs = _signer_info(der)["unsigned_attrs"]
    return next(a["values"][0] for a in attrs if a["type"].native == "signature_time_stamp_token")


def _with_token(der: bytes, token: cms.ContentInfo) -> bytes:
    """``der`` with ``token`` as its only signature-timestamp attribute."""
    info = cms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    signer["unsigned_attrs"] = cms.CMSAttributes(
        [{"type": "signature_time_stamp_token", "values": [cms.ContentInfo.load(token.dump())]}]
    )
    # Re-encode only what changed, up the tree (a forced dump of the whole CMS re-encoded every
    # certificate and CRL in it: tens of seconds).
    info["content"]["signer_infos"] = cms.SignerInfos(
        [cms.SignerInfo.load(signer.dump(force=True))]
    )
    return cms.ContentInfo.load(info.dump(force=False)).dump()


async def _stamp(der: bytes, cert: asn1_x509.Certificate, key: keys.PrivateKeyInfo) -> bytes:
    """``der`` stamped by pyHanko's in-process timestamper with ``cert``/``key`` (a correct
    imprint over the signature value: only the authority differs from the demo TSA)."""
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    value = _signer_info(der)["signature"].native
    token = await DummyTimeStamper(cert, key).async_timestamp(
        hashlib.sha256(value).digest(), "sha256"
    )
    return _with_token(der, token)


def _tsa_like(
    name: str, eku: x509.ObjectIdentifier, issuer: tuple[x509.Certificate, Any] | None = None
) -> tuple[asn1_x509.Certificate, keys.PrivateKeyInfo]:
    """A signing certificate with extended key usage ``eku``: self-signed (no trust store
    holds it) or issued by ``issuer`` (certificate, key)."""
    key = rsa.generate_private_key(65537, 2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return _asn1(cert, key)


def _asn1(cert: x509.Certificate, key: Any) -> tuple[asn1_x509.Certificate, keys.PrivateKeyInfo]:
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(der_key),
    )


async def _signed(
    demo: dict[str, Any], token_service: Any, tsa_url: str | None, data: bytes = DATA
) -> bytes:
    async with token_signer(token_service, demo, "org") as signer:
        return await sign_cms(signer, data=data, timestamp_url=tsa_url)


async def test_a_sound_timestamp_is_reported(demo, token_service, tsa, trust: TrustStore) -> None:
    der = await _signed(demo, token_service, tsa.url)
    result = verify_cms(der, trust, data=DATA)
    assert len(result.timestamps) == 1
    stamp = result.timestamps[0]
    assert stamp.authority.subject_cn == TSA_CN
    assert abs(stamp.gen_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert stamp.to_json()["time"] == stamp.gen_time.isoformat()
    # Without a timestamp the list is empty, not an error.
    assert verify_cms(await _signed(demo, token_service, None), trust, data=DATA).timestamps == ()


async def test_a_token_with_a_flipped_signature_byte_fails(
    demo, token_service, tsa, trust: TrustStore
) -> None:
    der = await _signed(demo, token_service, tsa.url)
    tst_sig = _token(der)["content"]["signer_infos"][0]["signature"].native
    assert der.count(tst_sig) == 1
    flipped = tst_sig[:10] + bytes([tst_sig[10] ^ 0x01]) + tst_sig[11:]
    with pytest.raises(KysoError) as err:
        verify_cms(der.replace(tst_sig, flipped), trust, data=DATA)
    assert err.value.code == "TIMESTAMP_INVALID"
    assert "signature does not verify" in err.value.details["detail"]


async def test_a_token_moved_from_another_signature_fails(
    demo, token_service, tsa, trust: TrustStore
) -> None:
    first = await _signed(demo, token_service, tsa.url, data=b"another file")
    second = await _signed(demo, token_service, tsa.url)
    with pytest.raises(KysoError) as err:
        verify_cms(_with_token(second, _token(first)), trust, data=DATA)
    assert err.value.code == "TIMESTAMP_INVALID"
    assert "not made over this signature" in err.value.details["detail"]


async def test_an_unknown_authority_fails(demo, token_service, trust: TrustStore) -> None:
    rogue = _tsa_like("Rogue TSA", ExtendedKeyUsageOID.TIME_STAMPING)
    der = await _stamp(await _signed(demo, token_service, None), *rogue)
    with pytest.raises(KysoError) as err:
        verify_cms(der, trust, data=DATA)
    assert err.value.code == "CERT_UNTRUSTED"
    assert "Rogue TSA" in err.value.details["timestamp_authority"]


async def test_an_authority_without_timestamping_usage_fails(
    demo, token_service, trust: TrustStore
) -> None:
    # Issued by the trusted issuing CA, fit for signing, but no timestamp authority.
    ca = x509.load_pem_x509_certificate(Path(demo["ca"]["issuing"]).read_bytes())
    ca_key = serialization.load_pem_private_key(
        Path(demo["ca"]["issuing_key"]).read_bytes(), password=None
    )
    client = _tsa_like("Not a TSA", ExtendedKeyUsageOID.CLIENT_AUTH, issuer=(ca, ca_key))
    der = await _stamp(await _signed(demo, token_service, None), *client)
    with pytest.raises(KysoError) as err:
        verify_cms(der, trust, data=DATA)
    assert err.value.code == "CERT_KEY_USAGE"
    assert err.value.details["purpose"] == "timestamp"
    assert "Not a TSA" in err.value.details["timestamp_authority"]


async def test_cli_shows_the_timestamp_and_fails_on_a_bad_one(
    demo, token_service, tsa, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    der = await _signed(demo, token_service, tsa.url)
    data = tmp_path / "tokhai.xml"
    data.write_bytes(DATA)
    good, bad = tmp_path / "good.p7s", tmp_path / "bad.p7s"
    good.write_bytes(der)
    tst_sig = _token(der)["content"]["signer_infos"][0]["signature"].native
    bad.write_bytes(der.replace(tst_sig, tst_sig[:-1] + bytes([tst_sig[-1] ^ 0x80])))
    trust_args = ["--trust", demo["ca"]["chain"], "--crl", demo["ca"]["crl"]]
    trust_args += ["--crl", demo["ca"]["root_crl"], "--data", str(data)]

    capsys.readouterr()
    assert main(["verify-cms", str(good), *trust_args]) == 0
    assert "Dấu thời gian / timestamp: " in capsys.readouterr().out
    assert main(["verify-cms", str(good), *trust_args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["timestamps"][0]["authority"].startswith(TSA_CN)
    assert main(["verify-cms", str(bad), *trust_args, "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "TIMESTAMP_INVALID" and error["details"]["detail"]
