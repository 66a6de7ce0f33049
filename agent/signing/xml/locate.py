"""Find an element's tags in the original bytes, so a signature can be spliced in.

The parsed tree says *which* element (the k-th ``<CKy_Dvi>`` in document order); this module
says *where* its start and end tags are in the file. A raw ``<`` only appears in markup,
comments, CDATA sections and processing instructions, so after masking those three the tags of
a given name are found by a plain search, and their count must equal the tree's count; if it
does not, we refuse rather than guess.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from lxml import etree

from agent.errors import KysoError

_CLOSERS = {b"<!--": b"-->", b"<![CDATA[": b"]]>", b"<?": b"?>"}
# Bytes that may follow a tag name: whitespace, then '/', '>' (start tag) or '>' (end tag).
_AFTER_START = (b" ", b"\t", b"\r", b"\n", b"/", b">")
_AFTER_END = (b" ", b"\t", b"\r", b"\n", b">")
# The rest of a start tag after its name: attributes (values may hold '>') then '>' or '/>'.
_TAG_REST = re.compile(rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")


@dataclass(frozen=True)
class ElementSpan:
    """Byte positions of one element's tags."""

    start: int  # index of '<' of the start tag
    start_tag_end: int  # index just after the start tag's '>'
    self_closing: bool
    end_tag_start: int | None  # index of '</' (None when self-closing)

    @property
    def attribute_insert_at(self) -> int:
        """Where a new attribute can go: just before '>' or '/>'."""
        return self.start_tag_end - (2 if self.self_closing else 1)


@dataclass(frozen=True)
class ElementKey:
    """Which element, told without the tree: its qualified name as written in the file, its
    position among the elements written with that name, and how many there are."""

    qname: str
    index: int
    count: int


def element_key(element: etree._Element) -> ElementKey:
    """The :class:`ElementKey` of a parsed element."""
    local = etree.QName(element).localname
    same = [
        e for e in element.getroottree().getroot().iter("{*}" + local) if e.prefix == element.prefix
    ]
    qname = f"{element.prefix}:{local}" if element.prefix else local
    return ElementKey(qname, same.index(element), len(same))


def _openers(data: bytes) -> list[tuple[int, bytes]]:
    """Every '<!--', '<![CDATA[' and '<?' in ``data``, in order (some may lie inside others).

    Found through their rare second byte ('!' or '?') with memchr-fast bytes.find: a search
    for '<…' would stop at each of the million '<' of a large dossier.
    """
    found: list[tuple[int, bytes]] = []
    for mark in (b"!", b"?"):
        at = data.find(mark, 1)
        while at >= 0:
            if data[at - 1 : at] == b"<":
                if mark == b"?":
                    found.append((at - 1, b"<?"))
                elif data.startswith(b"--", at + 1):
                    found.append((at - 1, b"<!--"))
                elif data.startswith(b"[CDATA[", at + 1):
                    found.append((at - 1, b"<![CDATA["))
            at = data.find(mark, at + 1)
    found.sort()
    return found


class _Masks:
    """Spans of comments, CDATA sections and PIs, where '<' is not markup."""

    def __init__(self, data: bytes) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        end = 0
        for start, opener in _openers(data):
            if start < end:
                continue  # inside the previous comment/CDATA/PI: not an opener
            close = data.find(_CLOSERS[opener], start + len(opener))
            if close < 0:
                raise KysoError("XML_MALFORMED", {"detail": "unterminated comment/CDATA/PI"})
            end = close + len(_CLOSERS[opener])
            self.starts.append(start)
            self.ends.append(end)

    def hides(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]


class Locator:
    """Locates elements of one parsed document in its bytes."""

    def __init__(self, data: bytes, encoding: str) -> None:
        self._data = data
        self._encoding = encoding
        self._masks = _Masks(data)

    def _positions(self, literal: bytes, follow: tuple[bytes, ...]) -> list[int]:
        """Offsets of ``literal`` followed by one of ``follow``, outside masked spans (a
        bytes.find loop: several times faster than a regex over a large file)."""
        data, found, pos = self._data, [], 0
        while (at := data.find(literal, pos)) >= 0:
            pos = at + len(literal)
            if data[pos : pos + 1] in follow and not self._masks.hides(at):
                found.append(at)
        return found

    def span(self, key: ElementKey) -> ElementSpan:
        """The tag positions of the element ``key`` names (XML_MALFORMED if they cannot be
        matched with the tree's count)."""
        name = key.qname.encode(self._encoding)
        starts = self._positions(b"<" + name, _AFTER_START)
        if len(starts) != key.count:
            raise KysoError(
                "XML_MALFORMED", {"detail": f"cannot match <{key.qname}> tags in the file"}
            )
        start = starts[key.index]
        rest = _TAG_REST.match(self._data, start + 1 + len(name))
        if rest is None:
            raise KysoError("XML_MALFORMED", {"detail": f"unreadable <{key.qname}> start tag"})
        if rest.group(1):
            return ElementSpan(start, rest.end(), True, None)
        # Walk start and end tags of the same name after this one to find the matching end.
        ends = [p for p in self._positions(b"</" + name, _AFTER_END) if p > start]
        later_starts = [p for p in starts if p > start]
        depth, i, j = 1, 0, 0
        while j < len(ends):
            if i < len(later_starts) and later_starts[i] < ends[j]:
                inner = _TAG_REST.match(self._data, later_starts[i] + 1 + len(name))
                if inner is not None and not inner.group(1):
                    depth += 1
                i += 1
                continue
            depth -= 1
            if depth == 0:
                return ElementSpan(start, rest.end(), False, ends[j])
            j += 1
        raise KysoError("XML_MALFORMED", {"detail": f"no end tag for <{key.qname}>"})
