"""What a dossier's signature covers, in the form the portal reads it. Pure logic, no I/O.

XML-DSig digests the canonical form (C14N) of the signed content, and canonicalization drops
comments, turns CDATA into text, resolves character references, and normalises attribute
order, quoting and the white space inside tags. A field read from the parsed file with
``.text`` can therefore differ from what was signed: ``<SoHoSo>0000<!---->1</SoHoSo>`` is
signed as "00001", but ``.text`` says "0000", and a second receipt followed. So:

- comments and processing instructions anywhere inside the root element are refused
  (E414): a BHXH file has no use for them, and no reader can be fooled by what is not there;
- every field is read from a tree parsed back from the canonical bytes of the signed
  element (enveloped signature removed, as the enveloped transform does), never from the
  file as uploaded;
- the SHA-256 of those canonical bytes identifies the content: every variant of a file that
  keeps its signature valid (quoting, ``<a/>`` for ``<a></a>``, CRLF, a comment before the
  root, a new signature over the same content) has the same digest, so duplicates are found
  on it rather than on the bytes of the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import parse_untrusted
from portal_stub.errors import PortalError

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_SIGNATURE = f"{{{DS_NS}}}Signature"


@dataclass(frozen=True)
class SignedContent:
    """The canonical form of a signed element and the tree read from it."""

    root: etree._Element  # parsed from ``canonical``: the only tree fields are read from
    canonical: bytes  # C14N 1.0 (no comments) of the element, its signature left out
    digest: str  # SHA-256 hex of ``canonical``


def refuse_hidden_nodes(root: etree._Element, *, where: str = "") -> None:
    """Raise E414 for the first comment or processing instruction inside ``root``.

    Those before or after the root element (a tool's header comment) are outside every field
    and are allowed.
    """
    for node in root.iter(etree.Comment, etree.ProcessingInstruction):
        kind = "chú thích" if isinstance(node, etree._Comment) else "chỉ thị xử lý"
        parent = node.getparent()
        inside = f" trong <{etree.QName(parent).localname}>" if parent is not None else ""
        prefix = f"{where}: " if where else ""
        raise PortalError(
            "XML_HIDDEN_CONTENT", {"detail": f"{prefix}{kind}{inside}, dòng {node.sourceline}"}
        )


def _drop_keeping_tail(element: etree._Element) -> None:
    """Remove ``element`` but keep the text after it (lxml's remove() takes the tail along,
    the enveloped transform does not)."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def canonical_bytes(root: etree._Element) -> bytes:
    """C14N 1.0 (no comments) of ``root`` with the signatures in its child containers removed,
    as the enveloped transform removes them (``root`` is changed)."""
    for container in root.iterchildren(etree.Element):
        for signature in list(container.iterchildren(_SIGNATURE)):
            _drop_keeping_tail(signature)
    return etree.tostring(root, method="c14n", exclusive=False, with_comments=False)


def canonical_content(root: etree._Element, *, max_depth: int) -> SignedContent:
    """Canonicalise ``root`` without its enveloped signature and parse the result back.

    The signature sits in a container that is a child of the root (``CKy_Dvi``, ``Cky``);
    it is removed from ``root`` itself (the caller's tree is changed: it is read only through
    the returned one afterwards). Call :func:`refuse_hidden_nodes` first.
    """
    canonical = canonical_bytes(root)
    try:
        # Produced by libxml2 from a tree that was parsed safely: no DTD, same depth. Parsed
        # with the same safe parser all the same, so that the bounds stay in one place.
        tree = parse_untrusted(canonical, max_bytes=len(canonical) + 1, max_depth=max_depth)
    except KysoError as exc:  # not expected: canonical XML of a well-formed tree
        raise PortalError("XML_MALFORMED", {"detail": exc.message_vi}, cause=exc) from exc
    return SignedContent(
        root=tree.getroot(), canonical=canonical, digest=hashlib.sha256(canonical).hexdigest()
    )
