"""Which ds:Reference elements Kyso's verifier accepts, and what each one points at.

Before any crypto (:mod:`agent.signing.xml.verify` runs libxmlsec afterwards): SignedInfo holds
exactly one content reference, resolving **by position** to what the profile says is signed,
through an id exactly one element carries (every attribute some verifier takes for an id), plus
at most one reference to an ``Object`` of the same signature (the SigningTime). Transforms:
enveloped and C14N 1.0 / exclusive; no Manifest.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

from agent.errors import KysoError
from agent.signing.xml.c14n import SUPPORTED_C14N
from agent.signing.xml.portable import ID_ATTRIBUTES_XPATH, portable_ncname
from agent.signing.xml.profiles import DS_NS, ENVELOPED, Placement

_DS = f"{{{DS_NS}}}"
DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}


@dataclass
class Ref:
    """One ds:Reference, resolved and checked against Kyso's rules."""

    uri: str
    target: etree._Element | None  # None: the whole document
    c14n: str
    enveloped: bool
    digest_name: str
    digest_value: bytes


def invalid(detail: str) -> KysoError:
    """SIGNATURE_INVALID: the signature or a reference is wrong (``detail`` says how)."""
    return KysoError("SIGNATURE_INVALID", {"detail": detail})


def unsupported(detail: str) -> KysoError:
    """XML_SIGNATURE_UNSUPPORTED: a shape or algorithm Kyso does not verify."""
    return KysoError("XML_SIGNATURE_UNSUPPORTED", {"detail": detail})


def one(parent: etree._Element, path: str, what: str) -> etree._Element:
    """The one element at ``path`` under ``parent``; SIGNATURE_INVALID for none or several."""
    found = parent.findall(path)
    if len(found) != 1:
        raise invalid(f"{len(found)} {what} elements")
    return found[0]


def b64_value(text: str | None, what: str) -> bytes:
    """An element's base64 text (line breaks allowed), decoded; SIGNATURE_INVALID if not."""
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid(f"{what} is not base64") from exc


def id_index(root: etree._Element) -> dict[str, list[etree._Element]]:
    """Every element by the value of the attributes some verifier takes for an id (Id / ID /
    id in any namespace, xml:id: the signer's definition, :mod:`.portable`), in one pass."""
    index: dict[str, list[etree._Element]] = {}
    # Attributes by local-name(): several times faster in libxml2 than testing every element.
    for value in root.xpath(ID_ATTRIBUTES_XPATH):
        found = index.setdefault(str(value), [])
        if value.getparent() not in found:
            found.append(value.getparent())
    return index


def _resolve(ids: dict[str, list[etree._Element]], uri: str) -> etree._Element | None:
    """None for the whole document, else the one element carrying that id."""
    if uri == "":
        return None
    # Only "#" + an NCName: libxmlsec pastes the value into the XPointer id('...') unescaped,
    # so a quote or a bracket in it would make libxmlsec digest another element than this one.
    if not uri.startswith("#") or not portable_ncname(uri[1:]):
        raise unsupported(f"reference URI {uri!r}")
    # Every id attribute counts: two elements with the same value is how a wrapped copy gets
    # the verifier to look at one element while the portal reads the other.
    found = ids.get(uri[1:], [])
    if len(found) != 1:
        raise invalid(f"reference {uri} matches {len(found)} elements")
    return found[0]


def _parse_reference(ids: dict[str, list[etree._Element]], ref: etree._Element) -> Ref:
    uri = ref.get("URI")
    if uri is None:
        raise unsupported("reference without URI")
    c14n, enveloped = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315", False
    for transform in ref.findall(f"{_DS}Transforms/{_DS}Transform"):
        algorithm = transform.get("Algorithm") or ""
        if algorithm == ENVELOPED:
            enveloped = True
        elif algorithm in SUPPORTED_C14N:
            c14n = algorithm
        else:
            raise unsupported(f"transform {algorithm}")
    digest_uri = one(ref, f"{_DS}DigestMethod", "DigestMethod").get("Algorithm") or ""
    if digest_uri not in DIGESTS:
        raise unsupported(f"digest {digest_uri}")
    value = b64_value(one(ref, f"{_DS}DigestValue", "DigestValue").text, "DigestValue")
    return Ref(uri, _resolve(ids, uri), c14n, enveloped, DIGESTS[digest_uri], value)


def inside(element: etree._Element | None, ancestor: etree._Element) -> bool:
    """True when ``element`` is ``ancestor`` or lies within it."""
    return element is not None and (element is ancestor or ancestor in element.iterancestors())


def plan_references(
    root: etree._Element,
    signature: etree._Element,
    refs: list[Ref],
    profile: str | None,
    placement: Placement | None,
) -> tuple[Ref, Ref | None]:
    """Kyso's rules: (the content reference, the optional SigningTime reference)."""
    content = [r for r in refs if not inside(r.target, signature)]
    props = [r for r in refs if inside(r.target, signature)]
    if len(content) != 1:
        raise invalid(f"{len(content)} references to the document (exactly one expected)")
    if len(props) > 1:
        raise unsupported(f"{len(props)} references inside the signature (at most one)")
    for prop in props:
        objects = [o for o in signature.iterchildren(f"{_DS}Object") if inside(prop.target, o)]
        if not objects:
            raise unsupported(f"reference {prop.uri} into the signature, not to an Object")
    ref = content[0]
    target = ref.target
    wanted = placement.reference_element if placement else None
    if target is None or target is root:
        pass  # the whole document: always enough
    elif wanted is not None:
        # By position: the root's one child of that name, not an element elsewhere that
        # happens to carry the id.
        twins = [c for c in root.iterchildren(etree.Element) if etree.QName(c).localname == wanted]
        if target.getparent() is not root or etree.QName(target).localname != wanted:
            raise invalid(f"the signature covers <{etree.QName(target).localname}>, not <{wanted}>")
        if len(twins) != 1:
            raise invalid(f"{len(twins)} <{wanted}> elements: only one may be signed and read")
    elif profile is None:
        # Nobody named a profile and no portal's document is recognised: a signature over one
        # part may be what was meant. Say what it covers instead of "modified after signing".
        raise KysoError(
            "XML_SIGNATURE_PARTIAL", {"element": etree.QName(target).localname, "uri": ref.uri}
        )
    elif profile != "generic":  # generic asked for by name: the caller judges .references
        raise invalid("the signature does not cover the document")
    return ref, (props[0] if props else None)


def read_references(
    signature: etree._Element, signed_info: etree._Element, ids: dict[str, list[etree._Element]]
) -> list[Ref]:
    """The one or two references Kyso accepts (the document, its signing time); no Manifest."""
    if signature.find(f".//{_DS}Manifest") is not None:
        # libxmlsec resolves a Manifest's references on its own (it opens a file: URI, seen
        # with strace) although they do not change its verdict: never let it.
        raise unsupported("ds:Manifest")
    ref_nodes = signed_info.findall(f"{_DS}Reference")
    if not ref_nodes:
        raise invalid("no Reference")
    if len(ref_nodes) > 2:
        raise unsupported(f"{len(ref_nodes)} references (the document and its signing time)")
    return [_parse_reference(ids, r) for r in ref_nodes]
