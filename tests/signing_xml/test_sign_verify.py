"""Every profile signed on SoftHSM2, verified by Kyso and by xmlsec1; tampering caught by both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from agent.errors import KysoError
from agent.signing.trust import TrustStore
from agent.signing.xml import check_xml_signature, verify_xml

from .helpers import FORM, GENERIC, HOSO, TAX, token_sign, without_signature, xmlsec_verify

CASES = [
    ("bhxh", HOSO, (), ("Báo tăng", "Báo giảm")),
    ("bhxh", FORM, (), ("8500000", "9500000")),
    ("tax", TAX, ("--id-attr:id", "HSoKhaiThue"), ("Hòa Bình", "Hoà Bình")),
    ("generic", GENERIC, (), ("Đã nhận", "Chưa nhận")),
]


def _trust(demo: dict[str, Any]) -> TrustStore:
    return TrustStore.from_files(
        [demo["ca"]["root"], demo["ca"]["issuing"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]]
    )


@pytest.mark.parametrize("cert_name", ["org", "ec"])
@pytest.mark.parametrize(
    ("profile", "doc", "xmlsec_args", "tamper"), CASES, ids=["hoso", "tokhai", "tax", "generic"]
)
async def test_signed_on_token_verifies_with_kyso_and_xmlsec1(
    token_service: Any,
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
    cert_name: str,
    profile: str,
    doc: bytes,
    xmlsec_args: tuple[str, ...],
    tamper: tuple[str, str],
) -> None:
    # bhxh/tax refuse an EC key unless allowed (their .NET portals cannot verify ECDSA).
    allow = {"allow_ecdsa": True} if cert_name == "ec" and profile != "generic" else {}
    signed = await token_sign(token_service, demo, cert_name, doc, profile, **allow)
    result = verify_xml(signed, _trust(demo))
    assert result.signer.thumbprint == demo["certificates"][cert_name]["thumbprint"]
    assert result.signer.mst == demo["certificates"][cert_name]["mst"]
    assert result.certificate_checked
    if profile != "generic":
        assert result.signing_time is not None
    path = tmp_path / "signed.xml"
    path.write_bytes(signed)
    ok = xmlsec_verify(xmlsec1, demo, path, *xmlsec_args)
    assert ok.returncode == 0, ok.stderr
    # Tampering: change a few characters of the signed content (Vietnamese text included).
    tampered = signed.replace(tamper[0].encode(), tamper[1].encode(), 1)
    assert tampered != signed
    with pytest.raises(KysoError) as err:
        verify_xml(tampered, _trust(demo))
    assert err.value.code == "SIGNATURE_INVALID"
    path.write_bytes(tampered)
    assert xmlsec_verify(xmlsec1, demo, path, *xmlsec_args).returncode != 0


async def test_bytes_outside_the_signature_are_preserved(
    token_service: Any, demo: dict[str, Any]
) -> None:
    signed = await token_sign(token_service, demo, "org", HOSO, "bhxh")
    assert without_signature(signed) == HOSO  # declaration, comments, whitespace, Vietnamese text
    signature = signed[len(HOSO.split(b"<CKy_Dvi>")[0]) :]
    assert signature.startswith(
        b'<CKy_Dvi><Signature xmlns="http://www.w3.org/2000/09/xmldsig#" Id="'
    )
    root = etree.fromstring(signed)
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    sig = root.find(f"CKy_Dvi/{ds}Signature")
    assert sig.find(f"{ds}KeyInfo/{ds}X509Data/{ds}X509SubjectName").text.startswith(
        "UID=MST:0101234567"
    )
    # SigningTime in a namespace of its own (XML-DSig §4.8: ##other inside SignatureProperty).
    assert sig.find(f".//{ds}SigningTime") is None
    stamp = sig.find(f"{ds}Object/{ds}SignatureProperties/{ds}SignatureProperty/*")
    assert stamp.tag == "{http://example.org/#signatureProperties}SigningTime"
    assert (
        sig.find(f"{ds}SignedInfo/{ds}CanonicalizationMethod")
        .get("Algorithm")
        .endswith("REC-xml-c14n-20010315")
    )


async def test_self_closing_container_and_tax_id_are_the_only_other_changes(
    token_service: Any, demo: dict[str, Any]
) -> None:
    signed = await token_sign(token_service, demo, "org", TAX, "tax")
    restored = without_signature(signed).replace(b"<CKyDTu></CKyDTu>", b"<CKyDTu/>")
    root = etree.fromstring(signed)
    new_id = root[0].get("id")
    assert new_id and restored == TAX.replace(
        b"<HSoKhaiThue>", f'<HSoKhaiThue id="{new_id}">'.encode()
    )
    # An existing id is kept and referenced.
    with_id = TAX.replace(b"<HSoKhaiThue>", b'<HSoKhaiThue id="ID_1">')
    signed2 = await token_sign(token_service, demo, "org", with_id, "tax")
    assert b'URI="#ID_1"' in signed2
    assert without_signature(signed2).replace(b"<CKyDTu></CKyDTu>", b"<CKyDTu/>") == with_id


async def test_sha1_on_request_for_legacy_files(
    token_service: Any, demo: dict[str, Any], xmlsec1: str, tmp_path: Path
) -> None:
    with pytest.raises(KysoError) as err:  # Java 17+ portals refuse SHA-1: asked explicitly
        await token_sign(token_service, demo, "org", HOSO, "bhxh", hash="sha1")
    assert err.value.code == "XML_SHA1_NOT_ACCEPTED" and "Java" in err.value.message_en
    signed = await token_sign(
        token_service, demo, "org", HOSO, "bhxh", hash="sha1", allow_sha1=True
    )
    assert b"xmldsig#rsa-sha1" in signed and b"xmldsig#sha1" in signed
    path = tmp_path / "sha1.xml"
    path.write_bytes(signed)
    assert xmlsec_verify(xmlsec1, demo, path).returncode == 0
    assert check_xml_signature(signed).signature_method.endswith("rsa-sha1")


async def test_missing_container_wrong_profile_and_already_signed(
    token_service: Any, demo: dict[str, Any]
) -> None:
    no_container = HOSO.replace(b"<CKy_Dvi></CKy_Dvi>", b"")
    for doc, profile, code in (
        (no_container, "bhxh", "XML_CONTAINER_MISSING"),
        (TAX, "bhxh", "XML_PROFILE_MISMATCH"),
        (HOSO, "nope", "XML_PROFILE_UNKNOWN"),
    ):
        with pytest.raises(KysoError) as err:
            await token_sign(token_service, demo, "org", doc, profile)
        assert err.value.code == code
    signed = await token_sign(token_service, demo, "org", HOSO, "bhxh")
    with pytest.raises(KysoError) as err:
        await token_sign(token_service, demo, "org", signed, "bhxh")
    assert err.value.code == "XML_ALREADY_SIGNED"


def test_unsigned_file_is_reported_not_signed(demo: dict[str, Any]) -> None:
    with pytest.raises(KysoError) as err:
        verify_xml(HOSO, _trust(demo))
    assert err.value.code == "NOT_SIGNED"


@pytest.mark.parametrize(
    ("cert_name", "code"), [("revoked", "CERT_REVOKED"), ("expired", "CERT_EXPIRED")]
)
async def test_revoked_and_expired_signers_are_reported(
    token_service: Any, demo: dict[str, Any], cert_name: str, code: str
) -> None:
    signed = await token_sign(token_service, demo, cert_name, HOSO, "bhxh")
    assert (
        check_xml_signature(signed).signer.thumbprint
        == demo["certificates"][cert_name]["thumbprint"]
    )
    with pytest.raises(KysoError) as err:
        verify_xml(signed, _trust(demo))
    assert err.value.code == code
    assert err.value.details["mst"] == "0101234567"
