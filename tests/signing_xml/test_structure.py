"""The ds:Signature layout: what .NET SignedXml (the portals; mono alike) refuses to load as
"Malformed element" is not VALID in Kyso's verify-xml either.

An outside interop round edited a file after Kyso signed it: an extra attribute on
<Signature> left the signature value and digests intact, so libxmlsec, Java and Kyso said
VALID while mono said "Malformed element Signature" and signxml failed schema validation.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import check_xml_signature, sign_xml
from agent.signing.xml.structure import malformed

from .test_portable import _hoso, _signer

DS = "http://www.w3.org/2000/09/xmldsig#"


@pytest.fixture(scope="module")
def signed() -> bytes:
    return asyncio.run(sign_xml(_hoso("<HoTen>Nguyễn Văn An</HoTen>"), _signer(), "bhxh"))


def _signature(document: bytes) -> etree._Element:
    found = etree.fromstring(document).find(f".//{{{DS}}}Signature")
    assert found is not None
    return found


def test_kysos_own_signature_loads(signed: bytes) -> None:
    assert malformed(_signature(signed)) is None
    check_xml_signature(signed)


@pytest.mark.parametrize("attribute", ['Foo="1"', 'ds:Id="x" xmlns:ds="' + DS + '"'])
def test_an_attribute_xml_dsig_does_not_allow_on_signature_is_not_valid(
    signed: bytes, attribute: str
) -> None:
    """The signed bytes are untouched (Signature's attributes are in no digest), yet the
    portals would not load the signature: not VALID, and the reason named."""
    edited = re.sub(rb"<Signature ", b"<Signature " + attribute.encode() + b" ", signed, count=1)
    assert edited != signed
    with pytest.raises(KysoError) as err:
        check_xml_signature(edited)
    assert err.value.code == "SIGNATURE_INVALID"
    detail = err.value.details["detail"]
    assert "<Signature> carries the attribute" in detail and ".NET" in detail


def _edited(signed: bytes, edit: str) -> etree._Element:
    signature = _signature(signed)
    ds = f"{{{DS}}}"
    signed_info = signature.find(f"{ds}SignedInfo")
    assert signed_info is not None
    reference = signed_info.find(f"{ds}Reference")
    assert reference is not None
    if edit == "element in SignedInfo":
        etree.SubElement(signed_info, f"{ds}Manifest")
    elif edit == "foreign element in Signature":
        etree.SubElement(signature, "{urn:x}Extra")
    elif edit == "two KeyInfo":
        etree.SubElement(signature, f"{ds}KeyInfo")
    elif edit == "two SignatureValue":
        etree.SubElement(signature, f"{ds}SignatureValue")
    elif edit == "no DigestValue":
        digest = reference.find(f"{ds}DigestValue")
        assert digest is not None
        reference.remove(digest)
    elif edit == "element in Transforms":
        transforms = reference.find(f"{ds}Transforms")
        assert transforms is not None
        etree.SubElement(transforms, f"{ds}XPath")
    elif edit == "attribute on Reference":
        reference.set("Target", "x")
    elif edit == "attribute on DigestValue":
        digest = reference.find(f"{ds}DigestValue")
        assert digest is not None
        digest.set("Id", "d")
    elif edit == "attribute on KeyInfo":
        key_info = signature.find(f"{ds}KeyInfo")
        assert key_info is not None
        key_info.set("Foo", "1")
    elif edit == "eleven transforms":
        transforms = reference.find(f"{ds}Transforms")
        assert transforms is not None
        for _ in range(11 - len(transforms)):
            etree.SubElement(transforms, f"{ds}Transform", Algorithm="x")
    return signature


@pytest.mark.parametrize(
    "edit",
    [
        "element in SignedInfo",
        "foreign element in Signature",
        "two KeyInfo",
        "two SignatureValue",
        "no DigestValue",
        "element in Transforms",
        "attribute on Reference",
        "attribute on DigestValue",
        "eleven transforms",
        "attribute on KeyInfo",
    ],
)
def test_what_dotnet_refuses_to_load_is_named(signed: bytes, edit: str) -> None:
    assert malformed(_edited(signed, edit)) is not None


def test_what_dotnet_allows_everywhere_is_allowed(signed: bytes) -> None:
    """Namespace declarations and xml:space/lang/base on any element; Id on KeyInfo, and any
    attribute inside KeyInfo and Object (another schema's content, e.g. XAdES); Objects in any number; CA2's
    X509Data beside KeyInfo (the shape accepted by name)."""
    signature = _signature(signed)
    ds = f"{{{DS}}}"
    xml = "{http://www.w3.org/XML/1998/namespace}"
    signed_info = signature.find(f"{ds}SignedInfo")
    assert signed_info is not None
    signed_info.set(f"{xml}lang", "vi")
    signature.set(f"{xml}space", "preserve")
    key_info = signature.find(f"{ds}KeyInfo")
    assert key_info is not None
    key_info.set("Id", "k")
    x509_data = key_info.find(f"{ds}X509Data")
    assert x509_data is not None
    x509_data.set("Foo", "1")
    etree.SubElement(signature, f"{ds}Object", MimeType="text/plain")
    etree.SubElement(signature, f"{ds}X509Data")
    assert malformed(signature) is None
