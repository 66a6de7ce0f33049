"""What a PDF's XMP metadata says: its title (beside /Info's) and the PDF/A part it claims.

A PDF can carry its title twice: in the trailer's /Info (/Title) and in the catalog's XMP
packet (dc:title). Viewers do not agree which they show (pdf.js and Acrobat prefer XMP, poppler
reads /Info), so a file whose two titles differ shows one name to the user and another in the
consent unless the consent reads both (red team 38). A file claiming PDF/A-1 must get no
transparency from its stamp (interop 41). Pure: works on pyHanko's objects.
"""

from __future__ import annotations

import unicodedata
from typing import Any, NamedTuple

from agent.signing.pdf.fields import deref

# An XMP packet is a few kilobytes; past this it is not read (and no title is claimed from it).
MAX_XMP_BYTES = 1 << 20
MAX_TITLE_CHARS = 2000

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DC = "http://purl.org/dc/elements/1.1/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_PDFAID = "http://www.aiim.org/pdfa/ns/id/"


class Xmp(NamedTuple):
    """What Kyso reads of a catalog's XMP packet."""

    title: str = ""  # dc:title ("x-default" first, else the first language)
    pdfa_part: int | None = None  # pdfaid:part: the PDF/A part the file claims (1, 2, 3, 4)


def read_xmp(root: Any) -> Xmp:
    """The catalog's /Metadata stream read once; empty when there is none or it cannot be
    read within :data:`MAX_XMP_BYTES`."""
    try:
        stream = deref(root.raw_get("/Metadata")) if "/Metadata" in root else None
        if stream is None or not hasattr(stream, "data"):
            return Xmp()
        declared = deref(stream.get("/Length", 0))
        if isinstance(declared, int) and declared > MAX_XMP_BYTES:
            return Xmp()
        data = stream.data  # decoded (a packet is usually stored as it is)
    except Exception:  # a hostile file's stream: nothing claimed from it
        return Xmp()
    if not isinstance(data, bytes) or len(data) > MAX_XMP_BYTES:
        return Xmp()
    tree = _tree(data)
    if tree is None:
        return Xmp()
    return Xmp(_title_in(tree), _pdfa_part_in(tree))


def xmp_title(root: Any) -> str:
    """dc:title of the catalog's /Metadata stream ("x-default" first, else the first
    language), or "" when there is none or it cannot be read within :data:`MAX_XMP_BYTES`."""
    return read_xmp(root).title


def _tree(packet: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(packet.strip(b"\x00 \t\r\n"), parser)
    except etree.XMLSyntaxError:
        return None


def _title_in(tree: Any) -> str:
    for title in tree.iter(f"{{{_DC}}}title"):
        items = list(title.iter(f"{{{_RDF}}}li"))
        if not items:  # dc:title with plain text (not an rdf:Alt), as some writers make it
            return _clean(title.text or "")
        chosen = next((i for i in items if i.get(_XML_LANG) == "x-default"), items[0])
        return _clean(chosen.text or "")
    return ""


def _pdfa_part_in(tree: Any) -> int | None:
    """pdfaid:part, written as an element or as an attribute of rdf:Description."""
    for description in tree.iter(f"{{{_RDF}}}Description"):
        value = description.get(f"{{{_PDFAID}}}part")
        if value is None:
            element = description.find(f"{{{_PDFAID}}}part")
            value = element.text if element is not None else None
        if value is not None and value.strip().isdigit():
            return int(value.strip())
    return None


def pdf_text(value: Any) -> str:
    """A PDF text string (an /Info entry) as viewers show it; "" for anything that is not one
    (a dictionary, a stream, an array: never Python's repr of it, red team 43). UTF-16 with a
    lone surrogate or an odd length gets U+FFFD there, as viewers show it; cut at
    :data:`MAX_TITLE_CHARS`."""
    if isinstance(value, str):  # pyHanko's TextStringObject, decoded already
        return _clean(str.__str__(value))
    if not isinstance(value, bytes):
        return ""
    raw = bytes(value)
    if raw.startswith(b"\xfe\xff"):
        text = raw[2:].decode("utf-16-be", errors="replace")
    elif raw.startswith(b"\xff\xfe"):
        text = raw[2:].decode("utf-16-le", errors="replace")
    elif raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", errors="replace")
    else:  # PDFDocEncoding: Latin-1 for the printable characters titles use
        text = raw.decode("latin-1")
    return _clean(text)


def _clean(text: str) -> str:
    return text.strip()[:MAX_TITLE_CHARS]


def same_title(first: str, second: str) -> bool:
    """Whether two titles read the same to a person (Unicode form, case and outer spaces)."""

    def key(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return key(first) == key(second)
