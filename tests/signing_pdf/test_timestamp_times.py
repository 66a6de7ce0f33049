"""verify-pdf does not call a signature timestamp's time proven when it cannot be right (red team
24: a token dated 2001 from an authority issued in 2026, or dated a year ahead, was VALID, and
the report showed that date as the proven signing time; verify-cms refused the same tokens).

The signature is the demo token's (SoftHSM2), built by pyHanko with Kyso's CMS signer, as
another tool would; the lying authority is pyHanko's test one with the demo's TSA certificate
and key (Kyso's own client refuses such tokens: signing_cms/test_tsa_answers.py)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from agent.signing.cms import DelegatingCmsSigner
from agent.signing.pdf.verify import verify_pdf
from tests.signing_cms.conftest import token_signer

from .conftest import make_pdf


def _authority(demo: dict[str, Any], when: dt.datetime | None) -> Any:
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    from agent.demo.tsa import ensure_tsa_certificate

    cert_path, key_path = ensure_tsa_certificate(Path(demo["ca"]["chain"]).parent)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DummyTimeStamper(
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        keys.PrivateKeyInfo.load(der_key),
        fixed_dt=when,
    )


async def _signed(token_service: Any, demo: dict[str, Any], when: dt.datetime | None) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(field_name="K", subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    async with token_signer(token_service, demo, "org") as signer:
        cms_signer = DelegatingCmsSigner(signer, signer.default_algorithm(), ())
        pdf_signer = signers.PdfSigner(meta, cms_signer, timestamper=_authority(demo, when))
        writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(1)))
        await pdf_signer.async_sign_pdf(writer, output=out)
    return out.getvalue()


async def test_a_timestamp_of_now_is_proof(token_service: Any, demo: dict[str, Any], trust):
    (report,) = await verify_pdf(await _signed(token_service, demo, None), trust)
    assert report.timestamp_valid and report.valid, report.to_json()


@pytest.mark.parametrize("when", ["before the certificates existed", "a year ahead"])
async def test_an_impossible_timestamp_time_is_not_proof(
    token_service: Any, demo: dict[str, Any], trust: Any, when: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    moment = (
        dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
        if "before" in when
        else now.replace(year=now.year + 1)
    )
    (report,) = await verify_pdf(await _signed(token_service, demo, moment), trust)
    assert not report.timestamp_valid and not report.valid, report.to_json()
    assert report.problem and "cannot be right" in report.problem
    assert not (report.signing_time or "").startswith(str(moment.year))  # not shown as proven
