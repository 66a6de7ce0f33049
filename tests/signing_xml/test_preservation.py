"""Splicing finds the right tags in awkward files; options and encodings beyond the defaults.

(xmlsec1 is the independent verifier here; signxml's XMLVerifier judges Kyso's files in
test_real_shapes.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from agent.demo import pki
from agent.errors import KysoError
from agent.signing.signer import SoftwareSigner
from agent.signing.xml import check_xml_signature, sign_xml, sign_xml_file

from .helpers import TAX, token_sign, without_signature, xmlsec_verify

_CA = pki.TestCA.create()
_KEY = rsa.generate_private_key(65537, 2048)
SIGNER = SoftwareSigner(_KEY, _CA.issue(pki.PROFILES[0], _KEY.public_key(), 0x78))


def _sign(doc: bytes, profile: str = "bhxh", **options: Any) -> bytes:
    return asyncio.run(sign_xml(doc, SIGNER, profile, **options))


AWKWARD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    "<!-- <CKy_Dvi/> in a comment must not be taken -->\n"
    "<Hoso ghiChu=\"a &gt; b\" kieu='x>y'>\r\n"
    "  <NoiDung><![CDATA[ <CKy_Dvi></CKy_Dvi> inside CDATA ]]><?pi <CKy_Dvi/> ?></NoiDung>\r\n"
    '  <CKy_Dvi  moTa="chữ ký > đơn vị" >\r\n  </CKy_Dvi >\r\n'
    "</Hoso>\r\n"
).encode()


def test_container_found_past_comments_cdata_pis_and_tricky_attributes() -> None:
    signed = _sign(AWKWARD)
    assert without_signature(signed) == AWKWARD
    root = etree.fromstring(signed)
    assert root.find("CKy_Dvi")[0].tag.endswith("}Signature")
    assert check_xml_signature(signed).signer.thumbprint == SIGNER.certificate.thumbprint


def test_prefixed_namespaced_container() -> None:
    doc = '<h:Hoso xmlns:h="urn:bhxh"><h:NoiDung>Lương</h:NoiDung><h:CKy_Dvi/></h:Hoso>'.encode()
    signed = _sign(doc)
    assert without_signature(signed) == doc.replace(b"<h:CKy_Dvi/>", b"<h:CKy_Dvi></h:CKy_Dvi>")
    check_xml_signature(signed)


def test_latin1_document_gets_an_ascii_signature_with_character_references() -> None:
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<Hoso><Ten>Café Hà</Ten><CKy_Dvi/></Hoso>\n'
    data = doc.encode("latin-1", errors="xmlcharrefreplace")
    signed = _sign(data)
    signature = signed[signed.index(b"<Signature") : signed.index(b"</Signature>")]
    assert signature.isascii() and b"&#" in signature  # the subject name "Công ty …"
    assert without_signature(signed).replace(b"<CKy_Dvi></CKy_Dvi>", b"<CKy_Dvi/>") == data
    check_xml_signature(signed)


def test_generic_profile_options_reference_and_exclusive_c14n(xmlsec1: str, tmp_path: Path) -> None:
    doc = '<Goi><DuLieu Id="dl1"><Ten>Nguyễn Văn An</Ten></DuLieu><Ky/></Goi>'.encode()
    signed = _sign(doc, "generic", reference="#dl1", container="Ky", c14n="exc-c14n", hash="sha512")
    assert b'URI="#dl1"' in signed and b"xml-exc-c14n#" in signed and b"xmlenc#sha512" in signed
    assert etree.fromstring(signed).find("Ky")[0].tag.endswith("}Signature")
    assert check_xml_signature(signed, profile="generic").references == ("#dl1",)
    with pytest.raises(KysoError) as err:  # without the profile, a part is not the document
        check_xml_signature(signed)
    assert err.value.code == "XML_SIGNATURE_PARTIAL"  # said as such, not "modified"
    path = tmp_path / "g.xml"
    path.write_bytes(signed)
    ca = tmp_path / "root.pem"
    ca.write_bytes(_CA.root_cert.public_bytes(serialization.Encoding.PEM))
    issuing = tmp_path / "issuing.pem"
    issuing.write_bytes(_CA.issuing_cert.public_bytes(serialization.Encoding.PEM))
    demo_like = {"ca": {"root": str(ca), "issuing": str(issuing)}}
    result = xmlsec_verify(xmlsec1, demo_like, path, "--id-attr:Id", "DuLieu")
    assert result.returncode == 0, result.stderr


def test_signature_wrapping_twin_is_refused() -> None:
    signed = _sign(TAX, "tax")
    extra = "<HSoKhaiThue><TTinChung>gian lận</TTinChung></HSoKhaiThue>".encode()
    twin = signed.replace(b"\n  <CKyDTu>", extra + b"\n  <CKyDTu>")
    with pytest.raises(KysoError) as err:
        check_xml_signature(twin, profile="tax")
    assert err.value.code == "SIGNATURE_INVALID"


def test_sign_xml_file_matches_sign_xml(tmp_path: Path) -> None:
    path = tmp_path / "hoso.xml"
    path.write_bytes(AWKWARD)
    original, signed = asyncio.run(sign_xml_file(path, SIGNER, "bhxh"))
    assert original == AWKWARD and without_signature(signed) == AWKWARD
    check_xml_signature(signed)


async def test_ec_token_signature_on_form_with_legacy_request_refused(
    token_service: Any, demo: dict[str, Any]
) -> None:
    with pytest.raises(KysoError) as err:
        await token_sign(token_service, demo, "ec", TAX, "tax", hash="sha1")
    assert err.value.code == "XML_ECDSA_NOT_ACCEPTED"
    with pytest.raises(KysoError) as err:  # allowed ECDSA, but never ECDSA-SHA1
        await token_sign(
            token_service, demo, "ec", TAX, "tax", hash="sha1", allow_ecdsa=True, allow_sha1=True
        )
    assert err.value.code == "INPUT_INVALID"


def test_signing_time_is_signed_and_cannot_be_backdated() -> None:
    signed = _sign(AWKWARD)
    result = check_xml_signature(signed)
    assert result.signing_time is not None and len(result.references) == 2
    stamp = result.signing_time.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert stamp in signed
    backdated = signed.replace(stamp, b"2020-01-01T00:00:00Z")
    with pytest.raises(KysoError) as err:
        check_xml_signature(backdated)
    assert err.value.code == "SIGNATURE_INVALID"
