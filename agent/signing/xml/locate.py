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

_OPENERS = re.compile(rb"<!--|<!\[CDATA\[|<\?")
_CLOSERS = {b"<!--": b"-->", b"<![CDATA[": b"]]>", b"<?": b"?>"}
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


class _Masks:
    """Spans of comments, CDATA sections and PIs, where '<' is not markup."""

    def __init__(self, data: bytes) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        pos = 0
        while (m := _OPENERS.search(data, pos)) is not None:
            end = data.find(_CLOSERS[m.group()], m.end())
            if end < 0:
                raise KysoError("XML_MALFORMED", {"detail": "unterminated comment/CDATA/PI"})
            end += len(_CLOSERS[m.group()])
            self.starts.append(m.start())
            self.ends.append(end)
            pos = end

    def hides(self, pos: int) -> bool:
        i = bisect.bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]


class Locator:
    """Locates elements of one parsed document in its bytes."""

    def __init__(self, data: bytes, encoding: str) -> None:
        self._data = data
        self._encoding = encoding
        self._masks = _Masks(data)

    def _name(self, element: etree._Element) -> bytes:
        qname = etree.QName(element)
        name = f"{element.prefix}:{qname.localname}" if element.prefix else qname.localname
        return name.encode(self._encoding)

    def _positions(self, pattern: bytes) -> list[int]:
        regex = re.compile(pattern)
        return [m.start() for m in regex.finditer(self._data) if not self._masks.hides(m.start())]

    def span(self, element: etree._Element) -> ElementSpan:
        """The tag positions of ``element`` (raises XML_MALFORMED if they cannot be matched)."""
        name = self._name(element)
        root = element.getroottree().getroot()
        local = etree.QName(element).localname
        same = [e for e in root.iter("{*}" + local) if e.prefix == element.prefix]
        starts = self._positions(b"<" + re.escape(name) + rb"(?=[\s/>])")
        if len(starts) != len(same):
            raise KysoError("XML_MALFORMED", {"detail": f"cannot match <{name.decode()}> tags in the file"})
        start = starts[same.index(element)]
        rest = _TAG_REST.match(self._data, start + 1 + len(name))
        if rest is None:
            raise KysoError("XML_MALFORMED", {"detail": f"unreadable <{name.decode()}> start tag"})
        if rest.group(1):
            return ElementSpan(start, rest.end(), True, None)
        # Walk start and end tags of the same name after this one to find the matching end.
        ends = [p for p in self._positions(b"</" + re.escape(name) + rb"\s*>") if p > start]
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
        raise KysoError("XML_MALFORMED", {"detail": f"no end tag for <{name.decode()}>"})
