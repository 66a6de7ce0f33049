"""The consent's "already signed by X" tells the person that X approved what they see; when the
file was changed after X signed (a page's content replaced in a later revision, or its bytes
altered), X did not sign what is shown, and the consent says so in a warning line."""

from __future__ import annotations

import io
from typing import Any

from agent.server.consent import pdf_item
from agent.signing.pdf import PdfSignOptions, inspect_pdf, sign_pdf
from tests.signing_cms.conftest import token_signer

from .conftest import make_pdf

SEEN = b"BT /F1 14 Tf 72 760 Td (Gia tri hop dong: 990.000.000 VND) Tj ET"


async def _signed(token_service: Any, demo: dict[str, Any], document: bytes, who: str) -> bytes:
    async with token_signer(token_service, demo, who) as signer:
        return (await sign_pdf(document, signer, PdfSignOptions())).document


def _page_replaced(document: bytes) -> bytes:
    """A later revision whose page 1 shows another amount (what a sender can append)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(document), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.pdf_name("/Contents")] = writer.add_object(generic.StreamObject(stream_data=SEEN))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _warnings(document: bytes) -> list[str]:
    facts = inspect_pdf(document)
    item = pdf_item(facts, None, None)
    return [value for label, value in item.lines if label == "Cảnh báo / warning"]


async def test_a_countersigned_file_gets_no_warning(token_service: Any, demo: dict[str, Any]):
    first = await _signed(token_service, demo, make_pdf(1), "org")
    both = await _signed(token_service, demo, first, "personal")
    facts = inspect_pdf(both)
    assert len(facts.signatures) == 2
    assert not any(s.changed_after for s in facts.signatures)
    assert _warnings(both) == []


async def test_a_page_changed_after_the_signature_is_said(
    token_service: Any, demo: dict[str, Any]
) -> None:
    signed = await _signed(token_service, demo, make_pdf(1), "org")
    changed = _page_replaced(signed)
    (earlier,) = inspect_pdf(changed).signatures
    assert earlier.changed_after
    (warning,) = _warnings(changed)
    assert earlier.signer in warning and "did not sign what you see" in warning
    # The desktop "Ký tệp" consent says it too.
    from agent.ui.filesign import pdf_warnings

    assert ("Cảnh báo / warning", warning) in pdf_warnings(io.BytesIO(changed))


async def test_bytes_altered_inside_the_signed_range_are_said(
    token_service: Any, demo: dict[str, Any]
) -> None:
    document = make_pdf(1, text="So tien 1.000.000")
    signed = await _signed(token_service, demo, document, "org")
    altered = signed.replace(b"So tien 1.000.000", b"So tien 9.000.000", 1)
    assert altered != signed
    (earlier,) = inspect_pdf(altered).signatures
    assert earlier.changed_after


async def test_verify_pdf_says_changed_after_not_a_certification(
    token_service: Any, demo: dict[str, Any]
) -> None:
    """An ordinary (approval) signature followed by a content change: the problem is the
    change, not "a certification that does not permit it" (there is no certification)."""
    from agent.signing.pdf.verify import verify_pdf
    from agent.signing.trust import TrustStore

    changed = _page_replaced(await _signed(token_service, demo, make_pdf(1), "org"))
    trust = TrustStore.from_files(
        [demo["ca"]["chain"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]]
    )
    (report,) = await verify_pdf(changed, trust)
    assert not report.valid
    assert report.problem is not None and "changed after this signature" in report.problem
    assert "certification" not in report.problem


async def test_a_signature_pyhanko_does_not_list_is_not_taken_as_unchanged(
    token_service: Any, demo: dict[str, Any]
) -> None:
    """The later revision also gives the earlier signature a /SubFilter pyHanko ignores: a
    signature not shown to cover the file is flagged (fail closed), not passed over."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = await _signed(token_service, demo, make_pdf(1), "org")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.pdf_name("/Contents")] = writer.add_object(generic.StreamObject(stream_data=SEEN))
    writer.update_container(page)
    value = writer.root["/AcroForm"]["/Fields"][0].get_object().raw_get("/V")
    value.get_object()[generic.pdf_name("/SubFilter")] = generic.pdf_name("/adbe.x509.rsa_sha1")
    writer.mark_update(value)
    out = io.BytesIO()
    writer.write(out)
    (earlier,) = inspect_pdf(out.getvalue()).signatures
    assert earlier.changed_after


async def _document_timestamp(document: bytes) -> bytes:
    """A document timestamp appended (what PAdES B-LTA adds), from a throw-away TSA."""
    import datetime as dt

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Demo TSA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    tsa_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    stamper = DummyTimeStamper(
        tsa_cert=tsa_cert,
        tsa_key=asn1_keys.PrivateKeyInfo.load(der_key),
        certs_to_embed=SimpleCertificateStore.from_certs([tsa_cert]),
    )
    out = io.BytesIO()
    await signers.PdfTimeStamper(stamper).async_timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(document), strict=False), "sha256", None, output=out
    )
    return out.getvalue()


async def test_a_document_timestamp_after_a_signature_is_no_change(
    token_service: Any, demo: dict[str, Any]
) -> None:
    stamped = await _document_timestamp(await _signed(token_service, demo, make_pdf(1), "org"))
    signatures = inspect_pdf(stamped).signatures
    assert len(signatures) == 2
    assert not any(s.changed_after for s in signatures)
    assert _warnings(stamped) == []


async def test_an_unreadable_earlier_signature_is_flagged_not_a_refusal(
    token_service: Any, demo: dict[str, Any]
) -> None:
    signed = await _signed(token_service, demo, make_pdf(1), "org")
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    end = signed.index(b">", start)
    placeholder = signed[:start] + b"0" * (end - start) + signed[end:]
    (earlier,) = inspect_pdf(placeholder).signatures
    assert earlier.changed_after
