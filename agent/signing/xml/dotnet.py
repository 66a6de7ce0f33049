"""What .NET's SignedXml would read differently from the document Kyso signs.

.NET Framework's ``SignedXml`` (and mono's, which shares its source) does not canonicalize the
document it was given: ``Utils.PreProcessDocumentInput`` / ``PreProcessElementInput`` write the
covered part out (``OuterXml``) and parse that text again. The writer puts a TAB in an attribute
value and a carriage return in text out raw, and the parser normalises them (a TAB in an
attribute becomes a space, a CR in text a line feed), so .NET digests other characters than C14N
says and calls a correct signature invalid. Such characters survive Kyso's parse only when the
file wrote them as character references (``&#9;`` in an attribute, ``&#13;`` in text): a raw one
was normalised already. Checked on mono 6.8 with real files (docs/interop.md): LF and CR
references in attributes (written back as ``&#xA;`` / ``&#xD;``), TAB and LF in text, CDATA,
and parts outside the covered element are judged alike by every verifier. Pure logic, no I/O.
"""

from __future__ import annotations

import re

from lxml import etree

# libxml2 evaluates these over the tree, never Python loops over every node (a 20 MB dossier's
# attributes: 0.07 s). The covered element's own tail is its parent's text: not covered.
_TAB_IN_ATTRIBUTE = "descendant-or-self::*/@*[contains(., $tab)]"
_CR_IN_TEXT = "descendant-or-self::*/text()[contains(., $cr)]"
_MAX_NAME = 60
# The only way such a TAB or CR reaches the tree: a character reference to it (decimal or
# hexadecimal, leading zeros allowed; a raw one is normalised by the parser, and entities other
# than the predefined five are refused). Its bytes are ASCII in every encoding Kyso accepts.
_REFERENCE = re.compile(rb"&#(?:0*(?:9|13)|x0*(?:9|[dD]));")


def _name(node: etree._Element) -> str:
    """An element's name for a message (untrusted: cut short)."""
    local = etree.QName(node).localname
    return local if len(local) <= _MAX_NAME else local[: _MAX_NAME - 1] + "…"


def may_misread(document: bytes) -> bool:
    """False when ``document``'s bytes hold no reference to a TAB or CR, so nothing in it can be
    misread (:func:`dotnet_misreads` would find nothing): 20 MB are searched in milliseconds,
    without a parse."""
    return _REFERENCE.search(document) is not None


def dotnet_misreads(covered: etree._Element) -> tuple[str, str] | None:
    """The first thing in ``covered`` (the element a signature covers; the document element for
    ``URI=""``) that .NET's SignedXml would digest differently, as (Vietnamese, English)
    words naming it; None when .NET reads it as C14N does."""
    attributes = covered.xpath(_TAB_IN_ATTRIBUTE, tab="\t")
    if attributes:
        value = attributes[0]
        attr = etree.QName(value.attrname).localname[:_MAX_NAME]
        where = _name(value.getparent())
        return (
            f"ký tự TAB viết dạng mã &#9; trong thuộc tính {attr} của <{where}>",
            f"a TAB written as the reference &#9; in attribute {attr} of <{where}>",
        )
    # XPath's contains() over every text node costs 0.25 s on 20 MB; the text serialized in one
    # pass and searched costs 0.05 s, so the nodes are looked at only when there is a CR.
    if b"\r" not in etree.tostring(covered, method="text", encoding="utf-8", with_tail=False):
        return None
    texts = covered.xpath(_CR_IN_TEXT, cr="\r")
    if texts:
        text = texts[0]
        holder = text.getparent()  # lxml: for a tail, the element the text follows
        where = _name(holder.getparent() if text.is_tail else holder)
        return (
            f"ký tự về đầu dòng (CR) viết dạng mã &#13; trong nội dung của <{where}>",
            f"a carriage return written as the reference &#13; in the text of <{where}>",
        )
    return None
