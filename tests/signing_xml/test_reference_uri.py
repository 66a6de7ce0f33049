"""A ``#id`` reference must name an id, nothing else (helper red-team, issue 14 stop).

libxmlsec turns ``URI="#value"`` into the XPointer ``id('value')`` by pasting the text in, with
no escaping: an Id such as ``A') | id('DECOY`` made it digest the element with Id ``DECOY``
while Kyso took the element carrying the odd Id for the covered part. One signature by the
unit's key over a decoy then "covered" any tax return with that Id. Only a fourth-edition
NCName (what the signer itself requires, :mod:`agent.signing.xml.portable`) is resolved;
anything else is XML_SIGNATURE_UNSUPPORTED before libxmlsec runs.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import check_xml_signature
from agent.signing.xml.c14n import c14n_bytes, standalone
from tests.tokens.keymix import self_signed

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
TAX = "http://kekhaithue.gdt.gov.vn/TKhaiThue"


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, self_signed("Kyso", key).public_bytes(Encoding.DER)


def _signed_over(root: etree._Element, uri: str, covered: etree._Element) -> bytes:
    """A signature in <CKyDTu> whose one reference says ``uri`` and whose digest is that of
    ``covered`` (what libxmlsec digests for an injected XPointer)."""
    key, der = _key_and_certificate()
    digest = hashlib.sha256(etree.tostring(standalone(covered), method="c14n")).digest()
    holder = root.find(f"{{{TAX}}}CKyDTu")
    signature = etree.SubElement(holder, f"{{{DS}}}Signature", nsmap={None: DS})
    info = etree.SubElement(signature, f"{{{DS}}}SignedInfo")
    etree.SubElement(info, f"{{{DS}}}CanonicalizationMethod", Algorithm=C14N)
    etree.SubElement(
        info,
        f"{{{DS}}}SignatureMethod",
        Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    )
    ref = etree.SubElement(info, f"{{{DS}}}Reference", URI=uri)
    etree.SubElement(etree.SubElement(ref, f"{{{DS}}}Transforms"), f"{{{DS}}}Transform").set(
        "Algorithm", C14N
    )
    etree.SubElement(
        ref, f"{{{DS}}}DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"
    )
    etree.SubElement(ref, f"{{{DS}}}DigestValue").text = base64.b64encode(digest).decode()
    value = etree.SubElement(signature, f"{{{DS}}}SignatureValue")
    data = etree.SubElement(etree.SubElement(signature, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    etree.SubElement(data, f"{{{DS}}}X509Certificate").text = base64.b64encode(der).decode()
    raw = key.sign(c14n_bytes(info, C14N), padding.PKCS1v15(), hashes.SHA256())
    value.text = base64.b64encode(raw).decode()
    return etree.tostring(root)


def _tax_return(content_id: str, amount: str = "1500000") -> etree._Element:
    return etree.fromstring(
        f'<HSoThueDTu xmlns="{TAX}"><HSoKhaiThue Id="{content_id}"><TTinChung>'
        "<mst>0101234567</mst><kyKKhai>Q3/2026</kyKKhai></TTinChung>"
        f"<CTieuTKhaiChinh><ct22>{amount}</ct22></CTieuTKhaiChinh></HSoKhaiThue>"
        '<CKyDTu><Extra Id="DECOY">whatever</Extra></CKyDTu></HSoThueDTu>'.encode()
    )


INJECTED = "A') | id('DECOY"


def test_an_id_that_rewrites_libxmlsec_s_xpointer_is_refused_before_it_runs() -> None:
    root = _tax_return(INJECTED)
    decoy = root.find(f".//{{{TAX}}}Extra")
    signed = _signed_over(root, "#" + INJECTED, decoy)
    for data in (signed, signed.replace(b"<ct22>1500000<", b"<ct22>9<")):
        with pytest.raises(KysoError) as err:
            check_xml_signature(data, profile="tax")
        assert err.value.code == "XML_SIGNATURE_UNSUPPORTED"


@pytest.mark.parametrize("value", ["a b", "a'b", "1abc", "x:y", "", "a)b", "id('K')"])
def test_only_an_ncname_is_resolved_as_an_id(value: str) -> None:
    root = _tax_return(value)
    signed = _signed_over(root, "#" + value, root.find(f"{{{TAX}}}HSoKhaiThue"))
    with pytest.raises(KysoError) as err:
        check_xml_signature(signed, profile="tax")
    assert err.value.code == "XML_SIGNATURE_UNSUPPORTED"


def test_an_ncname_id_still_verifies() -> None:
    root = _tax_return("HSKT_1")
    signed = _signed_over(root, "#HSKT_1", root.find(f"{{{TAX}}}HSoKhaiThue"))
    result = check_xml_signature(signed, profile="tax")
    assert result.references == ("#HSKT_1",)
    assert b"1500000" in result.covered_c14n
