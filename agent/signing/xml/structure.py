"""The ``ds:Signature`` layout every verifier reads: XML-DSig's elements, each with only its own
attributes and children.

.NET's ``SignedXml.LoadXml`` (the BHXH and tax portals; mono alike) refuses anything else as
"Malformed element" since MS16-035, and signxml validates against the XML-DSig schema, while
libxmlsec, Java and Kyso's own digest checks would pass it: a file Kyso called valid failed at
the portal. These are .NET's rules (``Utils.VerifyAttributes`` and the child counts of
``Signature``, ``SignedInfo`` and ``Reference``). Namespace declarations and ``xml:space`` /
``xml:lang`` / ``xml:base`` are allowed everywhere, as there. The one shape accepted by name,
CA2's ``X509Data`` beside ``KeyInfo`` (:mod:`.shapes`), stays accepted.

Pure logic over a parsed ``<Signature>``; no I/O.
"""

from __future__ import annotations

from lxml import etree

from agent.signing.xml.portable import shown
from agent.signing.xml.profiles import DS_NS

_DS = f"{{{DS_NS}}}"
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
_ALWAYS = {f"{_XML_NS}space", f"{_XML_NS}lang", f"{_XML_NS}base"}
# Each element's own attributes (unprefixed names only, as .NET compares the written name).
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "Signature": frozenset({"Id"}),
    "SignedInfo": frozenset({"Id"}),
    "CanonicalizationMethod": frozenset({"Algorithm"}),
    "SignatureMethod": frozenset({"Algorithm"}),
    "Reference": frozenset({"Id", "URI", "Type"}),
    "Transforms": frozenset(),
    "Transform": frozenset({"Algorithm"}),
    "DigestMethod": frozenset({"Algorithm"}),
    "DigestValue": frozenset(),
    "SignatureValue": frozenset({"Id"}),
    "KeyInfo": frozenset({"Id"}),
}
_MAX_TRANSFORMS = 10  # .NET's limit per Reference


def malformed(signature: etree._Element) -> str | None:
    """Why .NET SignedXml would refuse ``signature`` as malformed (English), or None."""
    return _children_problem(signature) or _attributes_problem(signature)


def _children_problem(signature: etree._Element) -> str | None:
    allowed_beside = {"X509Data"}  # CA2, by name: its certificate beside KeyInfo
    problem = _counted(
        signature,
        {"SignedInfo": (1, 1), "SignatureValue": (1, 1), "KeyInfo": (0, 1), "Object": (0, None)},
        allowed_beside,
    )
    if problem:
        return problem
    signed_info = signature.find(f"{_DS}SignedInfo")
    assert signed_info is not None  # counted above
    problem = _counted(
        signed_info,
        {"CanonicalizationMethod": (1, 1), "SignatureMethod": (1, 1), "Reference": (0, None)},
    )
    if problem:
        return problem
    for reference in signed_info.iterfind(f"{_DS}Reference"):
        problem = _counted(
            reference, {"Transforms": (0, 1), "DigestMethod": (1, 1), "DigestValue": (1, 1)}
        )
        if problem:
            return problem
        for transforms in reference.iterfind(f"{_DS}Transforms"):
            problem = _counted(transforms, {"Transform": (0, _MAX_TRANSFORMS)})
            if problem:
                return problem
    return None


def _counted(
    parent: etree._Element,
    wanted: dict[str, tuple[int, int | None]],
    also: set[str] | frozenset[str] = frozenset(),
) -> str | None:
    """The first way ``parent``'s element children differ from ``wanted`` (name: (min, max)),
    ``also`` being ds children tolerated beside them; None when they do not."""
    counts = dict.fromkeys(wanted, 0)
    name = etree.QName(parent).localname
    for child in parent.iterchildren(etree.Element):
        qname = etree.QName(child)
        if qname.namespace == DS_NS and qname.localname in counts:
            counts[qname.localname] += 1
        elif not (qname.namespace == DS_NS and qname.localname in also):
            return (
                f"<{name}> holds an element {shown(qname.localname)} XML-DSig does not allow there"
            )
    for child_name, (low, high) in wanted.items():
        count = counts[child_name]
        if count < low or (high is not None and count > high):
            return f"<{name}> holds {count} <{child_name}> elements"
    return None


def _attributes_problem(signature: etree._Element) -> str | None:
    for element in signature.iter(etree.Element):
        qname = etree.QName(element)
        allowed = _ATTRIBUTES.get(qname.localname) if qname.namespace == DS_NS else None
        if allowed is None or not _within_checked(element, signature):
            continue
        for attribute in element.attrib:
            if attribute not in allowed and attribute not in _ALWAYS:
                local = shown(etree.QName(attribute).localname)
                return f"<{qname.localname}> carries the attribute {local}, not an XML-DSig one"
    return None


def _within_checked(element: etree._Element, signature: etree._Element) -> bool:
    """True for the elements .NET checks itself: not the content of KeyInfo or Object (another
    schema's, e.g. XAdES, or key data .NET reads clause by clause)."""
    node = element.getparent()
    while node is not None and node is not signature:
        if etree.QName(node).localname in ("KeyInfo", "Object"):
            return False
        node = node.getparent()
    return True
