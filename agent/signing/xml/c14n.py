"""Reference digests by streaming libxml2's canonical XML into a hash (never one big string).

Canonicalization is libxml2's (through lxml's ``write_c14n``); this module only routes its
output into ``hashlib`` chunk by chunk, so a 50 MB dossier costs no extra copy, and it lifts an
enveloped signature out of the tree (keeping the text around it) while a digest is taken.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from lxml import etree

from agent.signing.xml.profiles import C14N_1_0_COMMENTS, EXC_C14N, EXC_C14N_COMMENTS

SUPPORTED_C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    C14N_1_0_COMMENTS,
    EXC_C14N,
    EXC_C14N_COMMENTS,
}


class _HashWriter:
    """A file-like object that hashes what libxml2 writes into it."""

    def __init__(self, hash_name: str) -> None:
        self.hash = hashlib.new(hash_name)

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)


def c14n_flags(method: str) -> tuple[bool, bool]:
    """(exclusive, with_comments) for a canonicalization method URI."""
    if method not in SUPPORTED_C14N:
        raise ValueError(method)
    return method.startswith(EXC_C14N), method.endswith("#WithComments")


def digest_node(
    node: etree._Element | etree._ElementTree, method: str, hash_name: str, *, with_comments: bool = False
) -> bytes:
    """Hash of the canonical form of ``node`` (a whole document or one element's subtree).

    ``with_comments`` is False for same-document references (``URI=""`` and ``#id``), which
    drop comments whatever the canonicalization method says (XML-DSig §4.4.3.3).
    """
    exclusive, _ = c14n_flags(method)
    writer = _HashWriter(hash_name)
    tree = node if isinstance(node, etree._ElementTree) else etree.ElementTree(node)
    tree.write_c14n(writer, exclusive=exclusive, with_comments=with_comments)
    return writer.hash.digest()


def c14n_bytes(element: etree._Element, method: str) -> bytes:
    """The canonical form of a small element (SignedInfo, an Object) as bytes."""
    exclusive, with_comments = c14n_flags(method)
    return etree.tostring(element, method="c14n", exclusive=exclusive, with_comments=with_comments)


@contextlib.contextmanager
def detached(element: etree._Element) -> Iterator[None]:
    """Take ``element`` out of its tree for the duration (the enveloped-signature transform).

    lxml moves an element's tail text with it; the tail belongs to the document, so it is
    handed to the previous sibling (or the parent) and given back afterwards.
    """
    parent = element.getparent()
    if parent is None:
        yield
        return
    index = parent.index(element)
    tail = element.tail
    previous = element.getprevious()
    saved = previous.tail if previous is not None else parent.text
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    element.tail = None
    parent.remove(element)
    try:
        yield
    finally:
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved
        parent.insert(index, element)
        element.tail = tail
