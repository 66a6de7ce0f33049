"""Which signer's shape a verified signature has: Kyso's own, or another Vietnamese signer's.

Named so `verify-xml` can say what it found, and so the one non-conformant shape we accept
(CA2's BHXH signer: ``URI=""`` without the enveloped transform) is accepted by name, not by a
general loosening. Pure logic on the parsed ``<Signature>``; no I/O, no crypto.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from agent.signing.xml.profiles import DS_NS

_DS = f"{{{DS_NS}}}"


@dataclass(frozen=True)
class Shape:
    """A known way of laying out an enveloped signature."""

    code: str
    vi: str
    en: str


KYSO = Shape("kyso", "Kyso", "Kyso")
KYSO_LEGACY = Shape(
    "kyso-legacy",
    "Kyso bản cũ (SigningTime trong namespace XML-DSig)",
    "Kyso, earlier versions (SigningTime in the XML-DSig namespace)",
)
VNPT_SMARTCA = Shape("vnpt-smartca", "VNPT SmartCA", "VNPT SmartCA")
CA2 = Shape(
    "ca2",
    'CA2 (URI="" không có biến đổi enveloped, X509Data ngoài KeyInfo)',
    'CA2 (URI="" without the enveloped transform, X509Data outside KeyInfo)',
)
GDT = Shape(
    "gdt",
    "cơ quan thuế (#_NODE_TO_SIGN, KeyValue + X509Data)",
    "tax authority (#_NODE_TO_SIGN, KeyValue + X509Data)",
)
XMLDSIG = Shape("xmldsig", "XML-DSig chuẩn", "standard XML-DSig")


def implicit_enveloped(signature: etree._Element, covers_signature: bool, enveloped: bool) -> bool:
    """CA2's signer digests the document before inserting the signature and says
    ``URI=""`` with only a C14N transform: no conformant verifier can check that, so it is
    accepted only in that shape (``X509Data`` beside ``KeyInfo``, as CA2 writes it)."""
    return covers_signature and not enveloped and signature.find(f"{_DS}X509Data") is not None


def detect(signature: etree._Element, content_uri: str, implicit: bool) -> Shape:
    """The shape of ``signature``, whose content reference is ``content_uri``."""
    if implicit or signature.find(f"{_DS}X509Data") is not None:
        return CA2
    if (signature.get("Id") or "").startswith("KysoSig-"):
        times = list(signature.iter("{*}SigningTime"))
        if times and etree.QName(times[0]).namespace == DS_NS:
            return KYSO_LEGACY
        return KYSO
    if any((e.get("Id") or "").startswith("SigningTime-") for e in signature.iter(etree.Element)):
        return VNPT_SMARTCA
    if content_uri == "#_NODE_TO_SIGN":
        return GDT
    return XMLDSIG
