"""Reference digests by streaming libxml2's canonical XML into a hash (never one big string).

Canonicalization is libxml2's (through lxml's ``write_c14n``); this module only routes its
output into ``hashlib`` chunk by chunk, so a 50 MB dossier costs no extra copy, and it lifts an
enveloped signature out of the tree (keeping the text around it) while a digest is taken.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
from collections.abc import Iterator

from lxml import etree

from agent.errors import KysoError
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


def standalone(element: etree._Element) -> etree._ElementTree:
    """A copy of ``element`` as the root of its own document, declaring every namespace that
    is in scope where it stands.

    libxml2 canonicalizes a whole document correctly, but lxml's canonicalization of an
    element inside a larger document (``tostring(el, method="c14n")``) writes spurious
    ``xmlns=""`` below a default namespace declared above the element (lxml 6.1 / libxml2
    2.14). Inclusive C14N of a subtree must show all in-scope namespaces on its apex, which
    this copy declares; exclusive C14N drops the unused ones itself.
    """
    copy_root = etree.Element(element.tag, attrib=dict(element.attrib), nsmap=element.nsmap)
    copy_root.text = element.text
    for child in element:
        copy_root.append(copy.deepcopy(child))
    return copy_root.getroottree()


def digest_document(tree: etree._ElementTree, method: str, hash_name: str) -> bytes:
    """Hash of the canonical whole document without comments (``Reference URI=""``)."""
    exclusive, _ = c14n_flags(method)
    writer = _HashWriter(hash_name)
    with _c14n_refusals():
        tree.write_c14n(writer, exclusive=exclusive, with_comments=False)
    return writer.hash.digest()


def digest_element(element: etree._Element, method: str, hash_name: str) -> bytes:
    """Hash of the canonical subtree of ``element`` without comments (``URI="#id"``): a
    same-document reference drops comments whatever the method says (XML-DSig §4.4.3.3)."""
    exclusive, _ = c14n_flags(method)
    writer = _HashWriter(hash_name)
    with _c14n_refusals():
        standalone(element).write_c14n(writer, exclusive=exclusive, with_comments=False)
    return writer.hash.digest()


@contextlib.contextmanager
def _c14n_refusals() -> Iterator[None]:
    """libxml2's C14N refusing the document (the signer's checks refuse what is known first,
    e.g. a relative namespace URI): XML_MALFORMED with its reason, never a traceback."""
    try:
        yield
    except etree.C14NError as exc:
        raise KysoError("XML_MALFORMED", {"detail": f"canonicalization: {exc}"}) from exc


def c14n_bytes(element: etree._Element, method: str) -> bytes:
    """The canonical form of a small element (SignedInfo) as bytes, by ``method``."""
    exclusive, with_comments = c14n_flags(method)
    out = io.BytesIO()
    standalone(element).write_c14n(out, exclusive=exclusive, with_comments=with_comments)
    return out.getvalue()


def _lift(element: etree._Element) -> None:
    """Take ``element`` out of its tree for good, leaving its tail text in the document."""
    parent = element.getparent()
    if parent is None:
        return
    tail, previous = element.tail, element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    element.tail = None
    parent.remove(element)


def subtree_without(apex: etree._Element, excluded: etree._Element | None) -> etree._ElementTree:
    """:func:`standalone` of ``apex`` with the copy of ``excluded`` (inside it) left out.

    The enveloped-signature transform on a copy: the caller's tree is never touched. lxml
    rewrites an element's namespace declarations when it is taken out of a tree and put back
    (a ``xmlns`` the ancestors also bind is dropped and its names rebound to the ancestors'
    prefix), which changes the canonical SignedInfo of a signature checked afterwards.
    """
    copied = standalone(apex)
    if excluded is None or excluded is apex:
        return copied
    steps = []
    node = excluded
    while node is not apex:
        parent = node.getparent()
        if parent is None:
            raise ValueError("the excluded element is not inside the apex")
        steps.append(parent.index(node))
        node = parent
    target = copied.getroot()
    for step in reversed(steps):
        target = target[step]
    _lift(target)
    return copied


@contextlib.contextmanager
def detached(element: etree._Element) -> Iterator[None]:
    """Take ``element`` out of its tree for the duration (the enveloped-signature transform).

    lxml moves an element's tail text with it; the tail belongs to the document, so it is
    handed to the previous sibling (or the parent) and given back afterwards.

    Putting it back is not exact: lxml drops the element's own namespace declarations that
    an ancestor also makes (by URI, whatever the prefix) and rebinds its names to the
    ancestor's, so its canonical form can change. Use it only when nothing canonicalizes
    that element afterwards (verify.py: after every signature value has been checked), else
    :func:`subtree_without`.
    """
    parent = element.getparent()
    if parent is None:
        yield
        return
    index = parent.index(element)
    tail = element.tail
    previous = element.getprevious()
    saved = previous.tail if previous is not None else parent.text
    _lift(element)
    try:
        yield
    finally:
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved
        parent.insert(index, element)
        element.tail = tail
