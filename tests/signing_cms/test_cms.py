"""CMS signatures made on SoftHSM2, verified by our verifier and by `openssl cms -verify`."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms

from agent.errors import KysoError
from agent.signing.cms import sign_cms, verify_cms
from agent.signing.trust import TrustStore
from agent.tokens.algorithms import SignatureAlgorithm

from .conftest import token_signer

DATA = "Tờ khai D02-TS kỳ 11/2026 — Công ty TNHH Giải pháp Kyso Việt Nam\n".encode() * 50


def openssl_verify(
    openssl: str,
    demo: dict[str, Any],
    sig: bytes,
    tmp_path: Path,
    data: bytes | None = None,
    *,
    crl: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """`openssl cms -verify` against the demo root + issuing CA (an independent verifier).

    The demo certificates carry the emailProtection EKU, so OpenSSL's default S/MIME signing
    purpose accepts them and no `-purpose any` is needed.
    """
    sig_path = tmp_path / "sig.p7s"
    sig_path.write_bytes(sig)
    cmd = [
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(sig_path),
        "-CAfile",
        demo["ca"]["chain"],
        "-out",
        str(tmp_path / "out.bin"),
    ]
    if data is not None:
        (tmp_path / "data.bin").write_bytes(data)
        cmd += ["-content", str(tmp_path / "data.bin")]
    if crl:
        # `openssl cms` has no -CRLfile: PEM CRLs placed in the CAfile are loaded with it.
        bundle = tmp_path / "ca-and-crls.pem"
        bundle.write_bytes(
            b"".join(Path(demo["ca"][k]).read_bytes() for k in ("chain", "crl", "root_crl"))
        )
        cmd[cmd.index("-CAfile") + 1] = str(bundle)
        cmd.append("-crl_check_all")
    return subprocess.run(cmd, capture_output=True, timeout=30, check=False)


def _attrs(sig: bytes) -> dict[str, Any]:
    signer_info = cms.ContentInfo.load(sig)["content"]["signer_infos"][0]
    return {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}


@pytest.mark.parametrize("name", ["org", "ec"])
@pytest.mark.parametrize("detached", [True, False])
async def test_sign_data_verified_by_us_and_openssl(
    token_service: Any,
    demo: dict[str, Any],
    trust: TrustStore,
    openssl: str,
    tmp_path: Path,
    name: str,
    detached: bool,
) -> None:
    async with token_signer(token_service, demo, name) as signer:
        sig = await sign_cms(signer, data=DATA, detached=detached)
    result = verify_cms(sig, trust, data=DATA if detached else None)
    assert result.signer.thumbprint == demo["certificates"][name]["thumbprint"]
    assert result.detached is detached
    assert result.content == (None if detached else DATA)
    assert abs(result.signing_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    attrs = _attrs(sig)
    assert {"content_type", "message_digest", "signing_time", "signing_certificate_v2"} <= set(
        attrs
    )
    assert attrs["message_digest"].native == hashlib.sha256(DATA).digest()
    proc = openssl_verify(openssl, demo, sig, tmp_path, DATA if detached else None)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "out.bin").read_bytes() == DATA


@pytest.mark.parametrize("name", ["org", "ec"])
@pytest.mark.parametrize("hash_name", ["sha256", "sha384"])
async def test_sign_precomputed_hash(
    token_service: Any,
    demo: dict[str, Any],
    trust: TrustStore,
    openssl: str,
    tmp_path: Path,
    name: str,
    hash_name: str,
) -> None:
    digest = hashlib.new(hash_name, DATA).digest()
    async with token_signer(token_service, demo, name) as signer:
        sig = await sign_cms(signer, digest=digest, hash_name=hash_name)
    assert verify_cms(sig, trust, data=DATA).digest_algorithm == hash_name
    assert verify_cms(sig, trust, digest=digest).detached
    proc = openssl_verify(openssl, demo, sig, tmp_path, DATA)
    assert proc.returncode == 0, proc.stderr.decode()


async def test_rsa_pss(
    token_service: Any, demo: dict[str, Any], trust: TrustStore, openssl: str, tmp_path: Path
) -> None:
    async with token_signer(token_service, demo, "org") as signer:
        sig = await sign_cms(signer, data=DATA, algorithm=SignatureAlgorithm.RSA_PSS_SHA256)
    assert verify_cms(sig, trust, data=DATA).signature_algorithm == "rsassa_pss"
    # With revocation checking by OpenSSL too (the CRLs say: not revoked).
    proc = openssl_verify(openssl, demo, sig, tmp_path, DATA, crl=True)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_tampering_is_detected_by_both(
    token_service: Any,
    demo: dict[str, Any],
    trust: TrustStore,
    openssl: str,
    tmp_path: Path,
    name: str,
) -> None:
    async with token_signer(token_service, demo, name) as signer:
        detached = await sign_cms(signer, data=DATA)
        attached = await sign_cms(signer, data=DATA, detached=False)
    changed = DATA.replace(b"11/2026", b"12/2026", 1)
    with pytest.raises(KysoError) as info:
        verify_cms(detached, trust, data=changed)
    assert info.value.code == "SIGNATURE_INVALID"
    assert openssl_verify(openssl, demo, detached, tmp_path, changed).returncode != 0
    # Change the embedded content inside the attached signature (same length, so the DER
    # structure stays valid and only the digest check can catch it).
    forged = attached.replace(b"11/2026", b"12/2026", 1)
    assert forged != attached
    with pytest.raises(KysoError) as info:
        verify_cms(forged, trust)
    assert info.value.code == "SIGNATURE_INVALID"
    assert openssl_verify(openssl, demo, forged, tmp_path).returncode != 0
    # A flipped bit in the signature value itself.
    sig_value = cms.ContentInfo.load(detached)["content"]["signer_infos"][0]["signature"].native
    broken = detached.replace(sig_value[-8:], bytes(b ^ 0xFF for b in sig_value[-8:]))
    with pytest.raises(KysoError) as info:
        verify_cms(broken, trust, data=DATA)
    assert info.value.code == "SIGNATURE_INVALID"
    assert openssl_verify(openssl, demo, broken, tmp_path, DATA).returncode != 0


async def test_revoked_and_expired_signers(
    token_service: Any,
    demo: dict[str, Any],
    trust: TrustStore,
    openssl: str,
    tmp_path: Path,
) -> None:
    async with token_signer(token_service, demo, "revoked") as signer:
        revoked = await sign_cms(signer, data=DATA)
    with pytest.raises(KysoError) as info:
        verify_cms(revoked, trust, data=DATA)
    assert info.value.code == "CERT_REVOKED"
    proc = openssl_verify(openssl, demo, revoked, tmp_path, DATA, crl=True)
    assert proc.returncode != 0 and b"revoked" in proc.stderr
    async with token_signer(token_service, demo, "expired") as signer:
        expired = await sign_cms(signer, data=DATA)
    with pytest.raises(KysoError) as info:
        verify_cms(expired, trust, data=DATA)
    assert info.value.code == "CERT_EXPIRED"


async def test_signing_time_is_reported_not_used_as_the_validation_time(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    """The claimed signingTime no longer decides validity (it did: a claim from before the
    certificate existed was CERT_NOT_YET_VALID). It is the signer's word, which a holder of a
    revoked key backdates at will (tests/signing_cms/test_validation_time.py), so without a
    timestamp the certificate is judged now, and the claim is only reported. A claim in the
    future is still refused as a lie."""
    claimed = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=5)
    async with token_signer(token_service, demo, "org") as signer:
        sig = await sign_cms(signer, data=DATA, signing_time=claimed)
        future = await sign_cms(
            signer, data=DATA, signing_time=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        )
    result = verify_cms(sig, trust, data=DATA)
    assert result.signing_time == claimed and result.validated_at_source == "now"
    with pytest.raises(KysoError) as info:
        verify_cms(future, trust, data=DATA)
    assert info.value.code == "CMS_INVALID"


async def test_bad_requests_and_inputs(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    async with token_signer(token_service, demo, "org") as signer:
        sig = await sign_cms(signer, data=DATA)
        for kwargs in (
            {},
            {"data": DATA, "digest": b"x" * 32},
            {"digest": hashlib.sha256(DATA).digest(), "detached": False},
            {"digest": b"short"},
            {"data": DATA, "hash_name": "md5"},
            {"data": DATA, "algorithm": SignatureAlgorithm.ECDSA_SHA256},
        ):
            with pytest.raises(KysoError) as info:
                await sign_cms(signer, **kwargs)
            assert info.value.code == "INPUT_INVALID", kwargs
    with pytest.raises(KysoError) as info:
        verify_cms(sig, trust)
    assert info.value.code == "CMS_DATA_MISSING"
    for junk in (b"", b"garbage", sig[:100], b"0\x03\x02\x01\x00"):
        with pytest.raises(KysoError) as info:
            verify_cms(junk, trust, data=DATA)
        assert info.value.code == "CMS_INVALID"


async def test_sha1_digest_only_when_the_verifier_allows_it(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    async with token_signer(token_service, demo, "org") as signer:
        sig = await sign_cms(signer, data=DATA, hash_name="sha1")
    with pytest.raises(KysoError) as info:
        verify_cms(sig, trust, data=DATA)
    assert info.value.code == "CMS_INVALID"
    legacy = TrustStore(trust.anchors, trust.intermediates, trust.crls, allow_sha1=True)
    assert verify_cms(sig, legacy, data=DATA).digest_algorithm == "sha1"
