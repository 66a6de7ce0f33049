"""verify_cms judges the signer's certificate at a proof of existence, never at signingTime.

The signingTime attribute is written by the signer: whoever holds the key of a revoked
certificate (the very case revocation is for: a key reported compromised) can backdate it to
before the revocation. So the certificate is judged at the genTime of a valid signature
timestamp (ETSI EN 319 102-1's proof of existence, as pyHanko does), else now. Signed on the
demo's SoftHSM2 token; the CA revokes it with a CRL of the real demo issuing CA; the
timestamps come from the demo TSA (``openssl ts -reply``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.cms import sign_cms, verify_cms
from agent.signing.trust import TrustStore

from .conftest import revoking_trust, token_signer, trust_arguments

DATA = "Tờ khai 05/QTT-TNCN năm 2026 — Công ty TNHH Giải pháp Kyso Việt Nam\n".encode()


def _gen_time(der: bytes) -> dt.datetime:
    signer = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    token = next(
        a["values"][0]
        for a in signer["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    )
    return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native


def _without_timestamp(der: bytes) -> bytes:
    """The same signature with its unsigned attributes (the timestamp) cut off."""
    info = cms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    kept = (
        "version",
        "sid",
        "digest_algorithm",
        "signed_attrs",
        "signature_algorithm",
        "signature",
    )
    bare = cms.SignerInfo({name: signer[name] for name in kept})
    info["content"]["signer_infos"] = cms.SignerInfos([bare])
    stripped = cms.ContentInfo.load(info.dump(force=False)).dump()
    bare_again = cms.ContentInfo.load(stripped)["content"]["signer_infos"][0]
    assert bare_again["unsigned_attrs"].native is None
    return stripped


async def _revoked_key_signs(
    token_service: Any, demo: dict[str, Any], claimed: dt.datetime, tsa_url: str | None = None
) -> bytes:
    async with token_signer(token_service, demo, "revoked") as signer:
        return await sign_cms(signer, data=DATA, signing_time=claimed, timestamp_url=tsa_url)


async def test_a_backdated_signing_time_does_not_hide_a_revocation(
    token_service: Any, demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Revoked 6 hours ago, signed now with a signingTime of 12 hours ago and no timestamp:
    CERT_REVOKED. Judged at the claimed time (as before) it verified as valid."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    revoked_at, claimed = now - dt.timedelta(hours=6), now - dt.timedelta(hours=12)
    trust = revoking_trust(demo, "revoked", revoked_at)
    der = await _revoked_key_signs(token_service, demo, claimed)
    with pytest.raises(KysoError) as err:
        verify_cms(der, trust, data=DATA)
    assert err.value.code == "CERT_REVOKED"
    details = err.value.details
    assert dt.datetime.fromisoformat(details["revoked_at"]) == revoked_at
    assert dt.datetime.fromisoformat(details["signing_time"]) == claimed
    assert details["signing_time_is_proof"] is False
    assert details["validated_at_source"] == "now"
    assert dt.datetime.fromisoformat(details["validated_at"]) >= now
    assert "backdate" in details["note"]

    # The CLI says it in both languages, and as data with --json.
    sig = tmp_path / "backdated.p7s"
    sig.write_bytes(der)
    (tmp_path / "data.txt").write_bytes(DATA)
    args = ["verify-cms", str(sig), "--data", str(tmp_path / "data.txt")]
    args += trust_arguments(trust, tmp_path)
    capsys.readouterr()
    assert main(args) == 2
    shown = capsys.readouterr().err
    assert "[CERT_REVOKED]" in shown
    assert "không phải bằng chứng" in shown and "not proof" in shown
    assert "no timestamp proves the signature is older" in shown
    assert claimed.isoformat() in shown
    assert main([*args, "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "CERT_REVOKED"
    assert error["details"]["validated_at_source"] == "now"
    assert error["details"]["signing_time_is_proof"] is False


@pytest.mark.parametrize(
    "claimed_offset",
    [dt.timedelta(hours=-12), dt.timedelta(minutes=4)],
    ids=["signing-time-backdated", "signer-clock-ahead"],
)
async def test_a_timestamp_before_the_revocation_keeps_the_signature_valid(
    token_service: Any,
    demo: dict[str, Any],
    tsa: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    claimed_offset: dt.timedelta,
) -> None:
    """Stamped by the demo TSA, revoked one second after the stamp's genTime: valid, judged
    at genTime, whatever signingTime claims (a clock 4 minutes ahead puts the claim after the
    revocation: judged at that claim, as before, it was CERT_REVOKED). Without its timestamp
    the same signature is CERT_REVOKED."""
    claimed = dt.datetime.now(dt.UTC).replace(microsecond=0) + claimed_offset
    der = await _revoked_key_signs(token_service, demo, claimed, tsa.url)
    gen_time = _gen_time(der)
    trust = revoking_trust(demo, "revoked", gen_time + dt.timedelta(seconds=1))

    result = verify_cms(der, trust, data=DATA)
    assert result.signing_time == claimed
    assert result.validated_at == gen_time and result.validated_at_source == "timestamp"
    assert [t.gen_time for t in result.timestamps] == [gen_time]

    with pytest.raises(KysoError) as err:
        verify_cms(_without_timestamp(der), trust, data=DATA)
    assert err.value.code == "CERT_REVOKED"
    assert err.value.details["validated_at_source"] == "now"

    sig = tmp_path / "stamped.p7s"
    sig.write_bytes(der)
    (tmp_path / "data.txt").write_bytes(DATA)
    args = ["verify-cms", str(sig), "--data", str(tmp_path / "data.txt")]
    args += trust_arguments(trust, tmp_path)
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"certificate judged at: {gen_time.isoformat()}" in out
    assert "proof the signature existed then" in out and "dấu thời gian" in out
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validated_at"] == gen_time.isoformat()
    assert report["validated_at_source"] == "timestamp"
    assert report["signing_time"] == claimed.isoformat()


async def test_an_expired_certificate_is_judged_now_without_a_timestamp(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    """The demo's "expired" certificate was valid from 800 to 400 days ago. A signature
    claiming to be 600 days old, with no timestamp to prove it, is CERT_EXPIRED (judged at its
    claim, as before, it was valid), and the details say a timestamp would have helped."""
    claimed = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=600)
    async with token_signer(token_service, demo, "expired") as signer:
        der = await sign_cms(signer, data=DATA, signing_time=claimed)
    with pytest.raises(KysoError) as err:
        verify_cms(der, trust, data=DATA)
    assert err.value.code == "CERT_EXPIRED"
    assert err.value.details["validated_at_source"] == "now"
    assert dt.datetime.fromisoformat(err.value.details["signing_time"]) == claimed
    assert "would have kept this signature valid" in err.value.details["note"]


async def test_an_unrevoked_signature_reports_when_it_was_judged(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    """No timestamp: judged now, and the claimed signing time is still reported as claimed."""
    before = dt.datetime.now(dt.UTC)
    async with token_signer(token_service, demo, "org") as signer:
        der = await sign_cms(signer, data=DATA)
    result = verify_cms(der, trust, data=DATA)
    assert result.validated_at_source == "now"
    assert result.validated_at is not None and result.validated_at >= before
    assert result.signing_time is not None and result.signing_time <= result.validated_at
