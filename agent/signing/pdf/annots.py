"""A new signature widget goes on its own page's /Annots array only.

Pages may share one /Annots array object (legal; pypdf's ``compress_identical_objects()`` makes
such files from per-page empty arrays). pyHanko appends a new widget to the array the page
names, so the stamp asked for one page was drawn on every page sharing it, over text the
placement guard checked on that one page only (interop 41). ISO 32000-2 12.5.2: an annotation
is referenced from one page's /Annots.
"""

from __future__ import annotations

from typing import Any


def own_annots(writer: Any, page_index: int, page_count: int) -> None:
    """Give page ``page_index`` (0-based) of pyHanko's incremental ``writer`` an /Annots array
    of its own when another of the ``page_count`` pages names the same array object (the page
    then holds a copy of it, updated in this revision); otherwise change nothing."""
    from pyhanko.pdf_utils import generic

    page_ref, _ = writer.find_page_for_modification(page_index)
    page = page_ref.get_object()
    annots = page.raw_get("/Annots") if "/Annots" in page else None
    if not isinstance(annots, generic.IndirectObject):
        return  # none yet, or a direct array: the page's own
    for other in range(page_count):
        if other == page_index:
            continue
        other_page = writer.find_page_for_modification(other)[0].get_object()
        theirs = other_page.raw_get("/Annots") if "/Annots" in other_page else None
        if isinstance(theirs, generic.IndirectObject) and theirs.idnum == annots.idnum:
            page["/Annots"] = generic.ArrayObject(list(annots.get_object()))
            writer.mark_update(page_ref)
            return
