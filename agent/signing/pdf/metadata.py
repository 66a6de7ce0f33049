"""A PDF's title as its XMP metadata gives it, beside the one in its /Info dictionary.

A PDF can carry its title twice: in the trailer's /Info (/Title) and in the catalog's XMP
packet (dc:title). Viewers do not agree which they show (pdf.js and Acrobat prefer XMP, poppler
reads /Info), so a file whose two titles differ shows one name to the user and another in the
consent unless the consent reads both (red team 38). Pure: works on pyHanko's objects.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from agent.signing.pdf.fields import deref

# An XMP packet is a few kilobytes; past this it is not read (and no title is claimed from it).
MAX_XMP_BYTES = 1 << 20
MAX_TITLE_CHARS = 2000

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DC = "http://purl.org/dc/elements/1.1/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def xmp_title(root: Any) -> str:
    """dc:title of the catalog's /Metadata stream ("x-default" first, else the first
    language), or "" when there is none or it cannot be read within :data:`MAX_XMP_BYTES`."""
    try:
        stream = deref(root.raw_get("/Metadata")) if "/Metadata" in root else None
        if stream is None or not hasattr(stream, "data"):
            return ""
        declared = deref(stream.get("/Length", 0))
        if isinstance(declared, int) and declared > MAX_XMP_BYTES:
            return ""
        data = stream.data  # decoded (a packet is usually stored as it is)
    except Exception:  # a hostile file's stream: no title claimed from it
        return ""
    if not isinstance(data, bytes) or len(data) > MAX_XMP_BYTES:
        return ""
    return _title_in(data)


def _title_in(packet: bytes) -> str:
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.fromstring(packet.strip(b"\x00 \t\r\n"), parser)
    except etree.XMLSyntaxError:
        return ""
    if tree is None:
        return ""
    for title in tree.iter(f"{{{_DC}}}title"):
        items = list(title.iter(f"{{{_RDF}}}li"))
        if not items:  # dc:title with plain text (not an rdf:Alt), as some writers make it
            return _clean(title.text or "")
        chosen = next((i for i in items if i.get(_XML_LANG) == "x-default"), items[0])
        return _clean(chosen.text or "")
    return ""


def _clean(text: str) -> str:
    return text.strip()[:MAX_TITLE_CHARS]


def same_title(first: str, second: str) -> bool:
    """Whether two titles read the same to a person (Unicode form, case and outer spaces)."""

    def key(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return key(first) == key(second)
