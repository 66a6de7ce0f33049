"""Namespace declarations canonicalization refuses: a relative URI (``xmlns:r="relative/ns"``).

Canonical XML 1.0 calls a relative namespace URI an error, and libxml2 (Kyso's own digest,
xmlsec1, signxml) and Santuario stop on it. A dossier declaring one cannot be signed by Kyso
or checked by a portal, so it is refused before consent and PIN, naming the declaration: the
digest computed after the PIN would otherwise fail with a library's message.

Walking a tree's declarations costs about a quarter of parsing it, so a pass over the bytes
(:class:`RelativeNamespaceScan`, a few ms for 10 MB) decides first whether the walk is needed:
every declaration is literally ``xmlns[:p] = "..."`` in the bytes, and one whose value starts
with a scheme and holds no character reference is absolute after parsing too. Look-alikes in
comments, text or other attributes can only make the pass say "maybe" (a value holding "<" or
a quote), never hide a real declaration.

Pure logic over bytes and a parsed tree; no I/O.
"""

from __future__ import annotations

import re

from lxml import etree

from agent.signing.xml.portable import VerifierRefusal, shown

# RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":".
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_DECLARATION = re.compile(rb"xmlns(?::[^\s=]*)?\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
# A real declaration's value holds no "<" and neither quote (a match that does began in a
# comment, text or another attribute and swallowed what followed: the tree must be asked).
_ABSOLUTE_AS_WRITTEN = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*:[^&<\"']*\Z")
# A declaration of the reserved "xml" prefix (legal, and pointless): libxml2 drops it when it
# parses, so only the bytes show it; mono's SignedXml writes it into its C14N and its digest no
# longer matches (interop 39). A look-alike in a comment or text is refused too: rare, and said.
_XML_PREFIX = re.compile(rb"xmlns:xml\s*=")
_XML_PREFIX_OVERLAP = 32


def declares_xml_prefix(data: bytes) -> bool:
    """Whether ``data`` (an ASCII-compatible encoding) holds ``xmlns:xml=``."""
    return _XML_PREFIX.search(data) is not None


def refuse_xml_prefix(profile_name: str) -> None:
    """XML_DOTNET_MISREAD for a document declaring the xml prefix, for a .NET portal."""
    raise VerifierRefusal(
        "XML_DOTNET_MISREAD",
        {
            "profile": profile_name,
            "detail_vi": "một khai báo lại tiền tố dành riêng xml (xmlns:xml=…); hãy xoá khai "
            "báo đó (nó không thay đổi gì trong tệp)",
            "detail_en": "a declaration of the reserved xml prefix (xmlns:xml=…); remove it "
            "(it changes nothing in the file)",
        },
    )


# A start tag is carried between chunks up to this size; a longer one (a 10 MB attribute)
# leaves the answer to the tree.
_CARRY_MAX = 1 << 20


def may_declare_relative_namespace(data: bytes) -> bool:
    """False when ``data`` (an ASCII-compatible encoding) declares no namespace other than
    an absolute URI as written, or ``xmlns=""``; True when the tree must be asked."""
    if b"xmlns" not in data:
        return False
    for found in _DECLARATION.finditer(data):
        value = found.group(1) if found.group(1) is not None else found.group(2)
        if value and not _ABSOLUTE_AS_WRITTEN.match(value):
            return True
    return False


class RelativeNamespaceScan:
    """:func:`may_declare_relative_namespace` over a document fed in chunks (``write``)."""

    def __init__(self) -> None:
        self.maybe = False
        self._carry = b""  # from the last "<": a start tag the next chunk may complete
        self.xml_prefix = False  # declares_xml_prefix over the whole document
        self._tail = b""

    def write(self, data: bytes) -> int:
        """Take the next chunk of the document's bytes."""
        if not self.xml_prefix:
            buffer = self._tail + data
            self.xml_prefix = declares_xml_prefix(buffer)
            # Carried: a name "xmlns:xml" followed by nothing but white space so far (its "="
            # may come after any amount of it), or else the last bytes, which may begin one.
            at = buffer.rfind(b"xmlns:xml")
            if at >= 0 and not buffer[at + len(b"xmlns:xml") :].strip():
                self._tail = buffer[at:]
                if len(self._tail) > _CARRY_MAX:  # a megabyte of white space: say "declared"
                    self.xml_prefix = True
            else:
                self._tail = buffer[-_XML_PREFIX_OVERLAP:]
        if not self.maybe:
            # A declaration sits inside one start tag, and no "<" can follow inside it: the
            # bytes before the last "<" hold only whole declarations.
            buffer = self._carry + data
            cut = max(buffer.rfind(b"<"), 0)
            self._carry = buffer[cut:]
            if may_declare_relative_namespace(buffer[:cut]) or len(self._carry) > _CARRY_MAX:
                self.maybe = True
        return len(data)

    def finish(self) -> bool:
        """True when the tree must be asked (see :func:`may_declare_relative_namespace`)."""
        if not self.maybe and may_declare_relative_namespace(self._carry):
            self.maybe = True
        return self.maybe


def relative_namespace(tree: etree._ElementTree) -> tuple[str, str] | None:
    """The first namespace declared with a relative URI, as (prefix, URI); ``""`` for the
    default namespace. ``xmlns=""`` (no namespace) is no URI at all."""
    for _event, (prefix, uri) in etree.iterwalk(tree, events=("start-ns",)):
        if uri and not _SCHEME.match(uri):
            return prefix or "", uri
    return None


def refuse_relative_namespaces(tree: etree._ElementTree, *, maybe: bool = True) -> None:
    """XML_NAMESPACE_RELATIVE naming the first relative namespace URI in ``tree``; ``maybe``
    False (a pass over the bytes found none) skips the walk."""
    if not maybe:
        return
    found = relative_namespace(tree)
    if found is not None:
        prefix, uri = found
        raise VerifierRefusal(
            "XML_NAMESPACE_RELATIVE",
            {"declaration": shown("xmlns" + (f":{prefix}" if prefix else "")), "uri": shown(uri)},
        )
