"""PAdES signing on the SoftHSM2 demo tokens, judged by poppler's pdfsig and by openssl.

pdfsig is an independent verifier (poppler, not pyHanko); ``openssl cms`` checks the CMS inside
the byte range, and ``openssl ts -verify`` the timestamp token, against the demo PKI.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.errors import KysoError
from agent.signing.pdf import PadesLevel, PdfSignOptions, Placement, inspect_pdf, sign_pdf
from agent.signing.pdf.sign import stamp_lines
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf, pdfsig


async def _sign(token_service, demo, name: str, data: bytes, options: PdfSignOptions) -> Any:
    async with token_signer(token_service, demo, name) as signer:
        return await sign_pdf(data, signer, options)


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_invisible_pades_b_b_is_valid_for_pdfsig(demo, token_service, tmp_path, name):
    result = await _sign(token_service, demo, name, make_pdf(), PdfSignOptions())
    assert result.level is PadesLevel.B_B and not result.visible
    out = tmp_path / "signed.pdf"
    out.write_bytes(result.document)
    report = pdfsig(out)
    assert "Signature is Valid" in report, report
    assert "ETSI.CAdES.detached" in report  # PAdES, not the older adbe.pkcs7.detached
    assert "Total document signed" in report


async def test_visible_stamp_in_vietnamese_and_two_signatures(demo, token_service, tmp_path):
    first = await _sign(
        token_service,
        demo,
        "org",
        make_pdf(3),
        PdfSignOptions(placement=Placement(1, (330, 60, 560, 135)), reason="Kế toán lập"),
    )
    assert first.visible
    second = await _sign(
        token_service,
        demo,
        "personal",
        first.document,
        PdfSignOptions(placement=Placement(1, (40, 60, 270, 135)), reason="Giám đốc duyệt"),
    )
    assert second.field_name != first.field_name
    out = tmp_path / "two.pdf"
    out.write_bytes(second.document)
    report = pdfsig(out)
    assert report.count("Signature is Valid") == 2, report
    # The first signature still covers its own revision, the second the whole file.
    assert "Total document signed" in report
    assert "not total document signed" in report.lower() or "Not total" in report
    facts = inspect_pdf(second.document)
    assert [s.field_name for s in facts.signatures] == [first.field_name, second.field_name]
    assert facts.signatures[0].signer.startswith("CÔNG TY") or facts.signatures[0].signer


def test_stamp_text_is_vietnamese_in_vietnam_time() -> None:
    when = dt.datetime(2026, 12, 4, 17, 5, tzinfo=dt.UTC)
    text = stamp_lines("Công ty TNHH Giải pháp Kyso Việt Nam", "0101234567", when)
    assert text.splitlines() == [
        "Ký bởi: Công ty TNHH Giải pháp Kyso Việt Nam",
        "MST: 0101234567",
        "Ngày ký: 05/12/2026 00:05 (giờ Việt Nam)",
    ]


async def test_pades_b_t_carries_a_timestamp_openssl_verifies(demo, token_service, tsa, tmp_path):
    result = await _sign(
        token_service, demo, "org", make_pdf(), PdfSignOptions(timestamp_url=tsa.url)
    )
    assert result.level is PadesLevel.B_T
    out = tmp_path / "bt.pdf"
    out.write_bytes(result.document)
    report = pdfsig(out)
    assert "Signature is Valid" in report, report
    token, stamped = _timestamp_token(result.document)
    token_file = tmp_path / "token.der"
    token_file.write_bytes(token)
    (tmp_path / "sig.bin").write_bytes(stamped)
    verified = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(token_file),
            "-token_in",
            "-data",
            str(tmp_path / "sig.bin"),
            "-CAfile",
            demo["ca"]["chain"],
            "-untrusted",
            str(Path(demo["ca"]["chain"]).parent / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stderr


async def test_certification_forbids_a_later_signature(demo, token_service):
    certified = await _sign(token_service, demo, "org", make_pdf(), PdfSignOptions(certify=True))
    with pytest.raises(KysoError) as err:
        await _sign(token_service, demo, "org", certified.document, PdfSignOptions())
    assert err.value.code == "PDF_CERTIFIED_NO_CHANGES"


async def test_a_signed_pdf_cannot_be_certified(demo, token_service):
    signed = await _sign(token_service, demo, "org", make_pdf(), PdfSignOptions())
    with pytest.raises(KysoError) as err:
        await _sign(token_service, demo, "org", signed.document, PdfSignOptions(certify=True))
    assert err.value.code == "PDF_CERTIFY_AFTER_SIGNATURE"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not a pdf", "PDF_MALFORMED"),
        (b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << /Root 9 0 R >>\n%%EOF", "PDF_MALFORMED"),
    ],
)
async def test_bad_pdfs_get_a_code_not_a_crash(demo, token_service, data, code):
    with pytest.raises(KysoError) as err:
        await _sign(token_service, demo, "org", data, PdfSignOptions())
    assert err.value.code == code


async def test_a_box_outside_the_page_is_refused(demo, token_service):
    with pytest.raises(KysoError) as err:
        await _sign(
            token_service,
            demo,
            "org",
            make_pdf(1),
            PdfSignOptions(placement=Placement(2, (0, 0, 100, 50))),
        )
    assert err.value.code == "PDF_PLACEMENT_INVALID"


def _timestamp_token(document: bytes) -> tuple[bytes, bytes]:
    """The signature-timestamp token (an unsigned attribute) of the last signature, and the
    signature value it stamps (what ``openssl ts -verify -data`` hashes)."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    embedded = PdfFileReader(io.BytesIO(document)).embedded_signatures[-1]
    signer_info = embedded.signer_info
    for attr in signer_info["unsigned_attrs"]:
        if attr["type"].native == "signature_time_stamp_token":
            return attr["values"][0].dump(), signer_info["signature"].native
    raise AssertionError("no signature timestamp in the signature")


async def test_verify_pdf_names_each_signature_and_its_level(
    demo, token_service, tsa, trust
) -> None:
    from agent.signing.pdf.verify import verify_pdf

    first = await _sign(token_service, demo, "org", make_pdf(), PdfSignOptions())
    second = await _sign(
        token_service, demo, "personal", first.document, PdfSignOptions(timestamp_url=tsa.url)
    )
    reports = await verify_pdf(second.document, trust)
    assert [r.valid for r in reports] == [True, True], [r.to_json() for r in reports]
    assert [str(r.level) for r in reports] == ["PAdES-B-B", "PAdES-B-T"]
    # No timestamp: nothing to call sound (the report said "timestamp_valid": true).
    assert [r.to_json()["timestamp_valid"] for r in reports] == [None, True]
    assert [r.covers_whole_file for r in reports] == [False, True]
    assert reports[0].mst == "0101234567"
    # One byte changed inside the first signature's range: both are no longer intact.
    tampered = bytearray(second.document)
    at = bytes(tampered).index(b"Nguoi ky - trang 1")
    tampered[at] = ord("X")
    broken = await verify_pdf(bytes(tampered), trust)
    assert not any(r.intact for r in broken)
    with pytest.raises(KysoError) as err:
        await verify_pdf(make_pdf(), trust)
    assert err.value.code == "NOT_SIGNED"


async def test_an_encrypted_pdf_and_a_signed_field_are_refused(demo, token_service) -> None:
    with pytest.raises(KysoError) as err:
        await _sign(token_service, demo, "org", make_pdf(password="mat-khau"), PdfSignOptions())
    assert err.value.code == "PDF_ENCRYPTED"
    signed = await _sign(token_service, demo, "org", make_pdf(), PdfSignOptions())
    with pytest.raises(KysoError) as err:
        await _sign(
            token_service,
            demo,
            "org",
            signed.document,
            PdfSignOptions(field_name=signed.field_name),
        )
    assert err.value.code == "PDF_FIELD_ALREADY_SIGNED"


@pytest.mark.parametrize("name", ["org", "ec"])
async def test_openssl_verifies_the_cms_over_the_byte_range(
    demo, token_service, tmp_path, name
) -> None:
    """A second verifier that is not pyHanko: the signed byte ranges, cut out by hand, and
    the CMS in /Contents, checked by openssl cms against the demo PKI."""
    import re

    result = await _sign(token_service, demo, name, make_pdf(), PdfSignOptions())
    pdf = result.document
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match
    a, b, c, d = (int(v) for v in match.groups())
    assert a == 0 and c + d == len(pdf)  # the signature covers the whole file but /Contents
    contents = pdf[a + b : c].strip()
    assert contents.startswith(b"<") and contents.endswith(b">")
    (tmp_path / "sig.der").write_bytes(bytes.fromhex(contents[1:-1].decode()))
    (tmp_path / "signed-ranges.bin").write_bytes(pdf[a : a + b] + pdf[c : c + d])
    verified = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "signed-ranges.bin"),
            "-CAfile",
            demo["ca"]["chain"],
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0 and "Verification successful" in verified.stderr, (
        verified.stderr
    )


async def test_pades_b_lt_embeds_the_revocation_data(demo, token_service, tsa, tmp_path) -> None:
    """B-LT: the certificates and the OCSP/CRL answers (from the demo's real responder) go into
    the document security store, so the signature can be checked after the CA is gone."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    from agent.demo.responder import DemoResponder
    from agent.signing.pdf.verify import verify_pdf
    from agent.signing.trust import TrustStore

    root = x509.load_pem_x509_certificate(Path(demo["ca"]["root"]).read_bytes())
    root_der = root.public_bytes(serialization.Encoding.DER)
    with DemoResponder(demo):
        result = await _sign(
            token_service,
            demo,
            "org",
            make_pdf(),
            PdfSignOptions(timestamp_url=tsa.url, long_term=True, trust_roots=(root_der,)),
        )
    assert result.level is PadesLevel.B_LT
    dss = PdfFileReader(io.BytesIO(result.document)).root["/DSS"]
    assert dss["/Certs"] and (dss.get("/OCSPs") or dss.get("/CRLs"))
    out = tmp_path / "lt.pdf"
    out.write_bytes(result.document)
    assert "Signature is Valid" in pdfsig(out)
    # Offline (responder stopped), with only the trust anchors: the embedded data suffices.
    offline = TrustStore.from_certificates([root_der], revocation_mode="soft-fail")
    reports = await verify_pdf(result.document, offline)
    assert str(reports[0].level) == "PAdES-B-LT" and reports[0].intact
