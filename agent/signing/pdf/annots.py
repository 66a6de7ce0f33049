"""A new signature widget goes on its own page's /Annots array only.

Pages may share one /Annots array object (legal; pypdf's ``compress_identical_objects()`` makes
such files from per-page empty arrays). pyHanko appends a new widget to the array the page
names, so the stamp asked for one page was drawn on every page sharing it, over text the
placement guard checked on that one page only (interop 41). ISO 32000-2 12.5.2: an annotation
is referenced from one page's /Annots.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def own_annots(writer: Any, page_index: int, page_count: int) -> None:
    """Give page ``page_index`` (0-based) of pyHanko's incremental ``writer`` an /Annots array
    of its own when another of the ``page_count`` pages names the same array object (the page
    then holds a copy of it, updated in this revision); otherwise change nothing. One walk of
    the page tree (a 10 000-page file costs milliseconds, not minutes: review 41)."""
    from pyhanko.pdf_utils import generic

    page_ref, _ = writer.find_page_for_modification(page_index)
    page = page_ref.get_object()
    annots = page.raw_get("/Annots") if "/Annots" in page else None
    if not isinstance(annots, generic.IndirectObject):
        return  # none yet, or a direct array: the page's own
    for other in _pages(writer.root.raw_get("/Pages"), page_count):
        if other is page:
            continue
        theirs = other.raw_get("/Annots") if "/Annots" in other else None
        if isinstance(theirs, generic.IndirectObject) and theirs.idnum == annots.idnum:
            page["/Annots"] = generic.ArrayObject(list(annots.get_object()))
            writer.mark_update(page_ref)
            return


def _pages(root: Any, page_count: int) -> Iterator[Any]:
    """The page dictionaries under ``root`` (the /Pages node), each node visited once, at most
    ``page_count`` pages (inspect_pdf checked the tree holds that many)."""
    from pyhanko.pdf_utils import generic

    stack = [root]
    seen: set[int] = set()
    found = 0
    while stack and found < page_count:
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            if node.idnum in seen:
                continue
            seen.add(node.idnum)
        node = node.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            kids = node.raw_get("/Kids")
            kids = kids.get_object() if isinstance(kids, generic.IndirectObject) else kids
            if isinstance(kids, generic.ArrayObject):
                stack.extend(reversed(list(kids)))
            continue
        found += 1
        yield node
