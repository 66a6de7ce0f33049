"""verify_xml judges the signer's certificate at a proof of existence, never at SigningTime.

The signed SigningTime is written by the signer's software: whoever holds the key of a
revoked certificate can backdate it to before the revocation. So the certificate is judged at
the genTime of the XAdES SignatureTimeStamp once its authority is trusted (ETSI EN 319 102-1's
proof of existence), else now; a caller's explicit ``at`` (the portal, judging a request when
it acts on it) still wins. Signed on the demo's SoftHSM2 token, revoked by a CRL of the real
demo issuing CA, stamped by the demo TSA (``openssl ts -reply``). The backdating signer is the
one fake: its clock (``dsig``'s ``dt``) set back, as an attacker's own software would be.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.xml import check_xml_signature, dsig, verify_xml
from agent.signing.xml.xades import XADES_NS
from tests.signing_cms.conftest import revoking_trust, trust_arguments

from .helpers import HOSO, token_sign

DS = "{http://www.w3.org/2000/09/xmldsig#}"


class _Clock:
    """A signer's clock ``offset`` away from the real one (only ``datetime.now`` moves)."""

    UTC = dt.UTC

    def __init__(self, offset: dt.timedelta) -> None:
        class _Shifted(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
                return dt.datetime.now(tz) + offset

        self.datetime = _Shifted


async def _revoked_key_signs(
    token_service: Any,
    demo: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    offset: dt.timedelta,
    **options: Any,
) -> tuple[bytes, dt.datetime]:
    """HOSO signed with the demo's "revoked" key by a signer whose clock is ``offset`` off;
    the signed bytes and the SigningTime they claim (the signature itself is sound)."""
    with monkeypatch.context() as patch:
        patch.setattr(dsig, "dt", _Clock(offset))
        signed = await token_sign(token_service, demo, "revoked", HOSO, "bhxh", **options)
    claimed = check_xml_signature(signed).signing_time
    assert claimed is not None
    assert abs(claimed - (dt.datetime.now(dt.UTC) + offset)) < dt.timedelta(minutes=1)
    return signed, claimed


def _verify_xml_cli(path: Path, trust: Any, folder: Path, *extra: str) -> int:
    return main(["verify-xml", str(path), *trust_arguments(trust, folder), *extra])


async def test_a_backdated_signing_time_does_not_hide_a_revocation(
    token_service: Any,
    demo: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Revoked 6 hours ago, signed now with a SigningTime of 12 hours ago and no timestamp:
    CERT_REVOKED. Judged at the claimed time (as before) it verified as valid."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    trust = revoking_trust(demo, "revoked", now - dt.timedelta(hours=6))
    signed, claimed = await _revoked_key_signs(
        token_service, demo, monkeypatch, dt.timedelta(hours=-12)
    )
    with pytest.raises(KysoError) as err:
        verify_xml(signed, trust)
    assert err.value.code == "CERT_REVOKED"
    details = err.value.details
    assert details["mst"] == "0101234567"
    assert dt.datetime.fromisoformat(details["signing_time"]) == claimed
    assert details["signing_time_is_proof"] is False
    assert details["validated_at_source"] == "now"
    assert dt.datetime.fromisoformat(details["validated_at"]) >= now
    assert "backdate" in details["note"]

    path = tmp_path / "backdated.xml"
    path.write_bytes(signed)
    capsys.readouterr()
    assert _verify_xml_cli(path, trust, tmp_path) == 1
    shown = capsys.readouterr().out
    assert "[CERT_REVOKED]" in shown
    assert "không phải bằng chứng" in shown and "not proof" in shown
    assert "no timestamp proves the signature is older" in shown
    assert _verify_xml_cli(path, trust, tmp_path, "--json") == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "CERT_REVOKED"
    assert error["details"]["validated_at_source"] == "now"


@pytest.mark.parametrize(
    "offset",
    [dt.timedelta(hours=-12), dt.timedelta(minutes=4)],
    ids=["signing-time-backdated", "signer-clock-ahead"],
)
async def test_a_timestamp_before_the_revocation_keeps_the_signature_valid(
    token_service: Any,
    demo: dict[str, Any],
    tsa: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offset: dt.timedelta,
) -> None:
    """Stamped by the demo TSA, revoked one second after the stamp's genTime: valid, judged
    at genTime, whatever SigningTime claims (a clock 4 minutes ahead puts the claim after the
    revocation: judged at that claim, as before, it was CERT_REVOKED). Without its timestamp,
    or judged at an ``at`` the caller gives (after the revocation, as the portal's "now" is),
    the same signature is CERT_REVOKED."""
    signed, claimed = await _revoked_key_signs(
        token_service,
        demo,
        monkeypatch,
        offset,
        timestamp_url=tsa.url,
        signature_timestamp="required",
    )
    stamp = check_xml_signature(signed).timestamp
    assert stamp is not None
    revoked_at = stamp.gen_time + dt.timedelta(seconds=1)
    trust = revoking_trust(demo, "revoked", revoked_at)

    result = verify_xml(signed, trust)
    assert result.signing_time == claimed
    assert result.validated_at == stamp.gen_time
    assert result.validated_at_source == "timestamp"

    with pytest.raises(KysoError) as err:
        verify_xml(signed, trust, at=revoked_at + dt.timedelta(seconds=1))
    assert err.value.code == "CERT_REVOKED"
    assert err.value.details["validated_at_source"] == "given"

    root = etree.fromstring(signed)
    unsigned = root.find(f".//{DS}Signature/{DS}Object/{{{XADES_NS}}}QualifyingProperties")
    unsigned.getparent().getparent().remove(unsigned.getparent())
    with pytest.raises(KysoError) as err:
        verify_xml(etree.tostring(root, xml_declaration=True, encoding="utf-8"), trust)
    assert err.value.code == "CERT_REVOKED"
    assert err.value.details["validated_at_source"] == "now"

    path = tmp_path / "stamped.xml"
    path.write_bytes(signed)
    capsys.readouterr()
    assert _verify_xml_cli(path, trust, tmp_path) == 0
    out = capsys.readouterr().out
    assert f"certificate judged at: {stamp.gen_time.isoformat()}" in out
    assert "proof the signature existed then" in out
    assert f"Dấu thời gian / timestamp: {stamp.gen_time.isoformat()}" in out
    assert _verify_xml_cli(path, trust, tmp_path, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validated_at"] == stamp.gen_time.isoformat()
    assert report["validated_at_source"] == "timestamp"
    assert dt.datetime.fromisoformat(report["signing_time"]) == claimed
