"""Later signatures' stamps drawn over text an earlier signature covers ("sneaky signature").

A later signer may add a signature field of their own; an earlier signature allows that (it is
how a second person signs). But the field's appearance is the later signer's drawing: a white
box over the whole page, or over one amount, with other words in it, shows the reader a page
the first signer never signed, while pyHanko (rightly) calls the update "form filling". So a
stamp added after a signature and drawn over glyphs of the page that signature covers makes
that signature not valid here: where a person looks, the signed words may be hidden.

The stamps are the widgets a later revision added or redrew (agent.signing.pdf.widgets); what
they may hide is the glyphs the signed revision drew (agent.signing.pdf.glyphs) and the widgets
that showed something then. A glyph counts as hidden when its centre is under the stamp (a
stamp touching the edge of a line hides nothing); a widget that showed something and was
redrawn hides its own former look. Text and widgets only, by design: a stamp over a scanned
page's image (every stamp is) or over lines is the ordinary case. Fail closed: a page too
costly or impossible to read counts as covered, and widgets that could not all be surveyed
are named :data:`UNCHECKED`. Pure logic on bytes; no I/O.
"""

from __future__ import annotations

import io
import logging
import time
from typing import Any, BinaryIO

from agent.errors import KysoError
from agent.signing.pdf.glyphs import Box, text_boxes
from agent.signing.pdf.widgets import Survey, redrawn, survey

log = logging.getLogger(__name__)

# Wall-clock budget for the whole file's stamp check (every signature, every stamped page):
# a hostile file within the byte and operator budgets may still be slow to read.
STAMP_CHECK_SECONDS = 10.0
# What a signature's report names when the widgets could not all be read (too many, a budget
# spent, unreadable): the check fails closed.
UNCHECKED = "(widgets not checked: too many or unreadable)"
# Distinct pages read per earlier signature (each later stamp is checked; pages are the cost).
MAX_STAMPED_PAGES = 32


class StampCheck:
    """For each signature of ``document`` in turn: which widgets added or redrawn after it
    (later signers' stamps, fields typed over) are drawn over what its revision showed: the
    glyphs of the page, and the widgets that showed a value then (a filled field, an earlier
    stamp). One time budget and one reading of each revision and page for the whole file."""

    def __init__(self, document: bytes, seconds: float = STAMP_CHECK_SECONDS) -> None:
        self.document = document
        self.seconds = seconds
        self.deadline: float | None = None
        self._readers: dict[int, Any] = {}
        self._surveys: dict[int, Survey] = {}
        self._text: dict[tuple[int, int], list[Box] | None] = {}

    def covering(self, signed_end: int) -> tuple[str, ...]:
        """The fields (or widgets) added or redrawn after the revision ending at
        ``signed_end`` whose box hides something that revision showed on the same page: its
        glyphs, or a widget that showed something then (a redrawn one hides its own)."""
        self._start_clock()
        before, after = self._survey(signed_end), self._survey(len(self.document))
        if not (before.complete and after.complete):
            return (UNCHECKED,)
        changed = redrawn(before, after)
        if not changed:
            return ()
        shown = [w for w in before.widgets if w.shows]
        pages = self._reader(signed_end).pages
        covering: list[str] = []
        for widget in after.widgets:
            if widget.key not in changed:
                continue
            name = widget.field or f"widget {widget.key[0]}"
            if any(w.key == widget.key for w in shown):
                covering.append(name)  # what it showed when signed is drawn afresh
                continue
            if widget.page >= len(pages):
                continue  # a page added later: pyHanko calls that more than form filling
            values = [w.box for w in shown if w.page == widget.page and w.key not in changed]
            hidden = self._glyphs(signed_end, widget.page, pages)
            if draws_over(widget.box, hidden) or draws_over(widget.box, values):
                covering.append(name)
        return tuple(dict.fromkeys(covering))

    def changed_fields(self, signed_end: int, named: set[str]) -> set[str]:
        """Those of ``named`` (fields pyHanko lists as changed after the signature ending at
        ``signed_end``) whose value differs or whose widgets were redrawn in the final file:
        pyHanko also lists a field whose appearance it would merely allow to change."""
        if not named:
            return named
        self._start_clock()
        before, after = self._survey(signed_end), self._survey(len(self.document))
        if not (before.complete and after.complete):
            return named
        changed = redrawn(before, after)
        touched = {w.field for w in after.widgets if w.key in changed}
        return {
            name
            for name in named
            if name not in before.values
            or before.values[name] != after.values.get(name)
            or name in touched
        }

    def _start_clock(self) -> None:
        # From the first question: pyHanko's own validation before it is not the check's time.
        if self.deadline is None:
            self.deadline = time.monotonic() + self.seconds

    def _glyphs(self, signed_end: int, page: int, pages: Any) -> list[Box] | None:
        key = (signed_end, page)
        if key not in self._text:
            read = sum(1 for k in self._text if k[0] == signed_end)
            over = read >= MAX_STAMPED_PAGES or time.monotonic() > (self.deadline or 0.0)
            self._text[key] = None if over else text_boxes(pages[page], self.deadline)
        return self._text[key]

    def _reader(self, end: int) -> Any:
        from pypdf import PdfReader

        if end not in self._readers:
            self._readers[end] = PdfReader(io.BytesIO(self.document[:end]), strict=False)
        return self._readers[end]

    def _survey(self, end: int) -> Survey:
        if end not in self._surveys:
            try:
                self._surveys[end] = survey(self._reader(end), self.deadline)
            except Exception as exc:  # pypdf's own errors are many: nothing can be told
                log.debug("revision unreadable for the stamp check: %s", exc)
                self._surveys[end] = Survey(complete=False)
        return self._surveys[end]


def covering_stamps(document: bytes, signed_end: int) -> tuple[str, ...]:
    """The fields (or widgets) added or redrawn in ``document`` after the revision ending at
    ``signed_end`` that hide what that revision showed (:meth:`StampCheck.covering`)."""
    return StampCheck(document).covering(signed_end)


def draws_over(box: Box, glyphs: list[Box] | None) -> bool:
    """Whether a stamp in ``box`` hides the centre of any of the page's ``glyphs`` (None: a
    page too costly to read, which counts as covered)."""
    return glyphs is None or any(box.covers_centre_of(glyph) for glyph in glyphs)


Place = tuple[int, tuple[float, float, float, float]]
# The gap left under what an anchored stamp, moved down, would have hidden (points).
SLIDE_STEP = 2.0


def stamp_check_needed(facts: Any, options: Any) -> bool:
    """Whether :func:`check_stamp_clear` must look under the new stamp: on a file with earlier
    signatures for any visible stamp (theirs must stay readable and VALID), and on a first
    signature for a box the page or the command line chose (the document's own words must
    stay readable: red team 38). A field the document has is where its author put it; an
    anchored stamp is placed below its text."""
    if facts.signatures:
        return options.placement is not None or bool(options.field_name)
    return options.placement is not None and options.anchor is None


def check_stamp_clear(
    source: BinaryIO,
    place: Place | None,
    *,
    field: str | None = None,
    slide_down: bool = False,
    earlier_signers: bool = True,
) -> Place | None:
    """Before signing a file that already carries signatures: PDF_PLACEMENT_INVALID when the
    new stamp would be drawn over what the page shows (its glyphs, a filled field, an earlier
    stamp), which would make the earlier signatures NOT VALID (:class:`StampCheck`). The stamp
    is ``place`` (page 1-based, box in user space), else the widget of the existing empty
    ``field`` signed. ``slide_down`` (a stamp put under an anchor text): the first clear place
    further down the page is returned instead of a refusal, when there is one."""
    from pypdf import PdfReader

    at = source.tell()
    try:
        reader = PdfReader(source, strict=False)
        deadline = time.monotonic() + STAMP_CHECK_SECONDS
        shown = survey(reader, deadline)
        if place is not None:
            targets = [(place[0] - 1, Box.of(place[1]))]
        else:
            targets = [(w.page, w.box) for w in shown.widgets if field and w.field == field]
        for page, box in targets:
            if box is None:
                continue
            pdf_page = reader.pages[page]
            hidden = text_boxes(pdf_page, deadline)
            # What other widgets show (the field being signed is an empty one: not among them).
            values = [w.box for w in shown.widgets if w.page == page and w.shows]
            if hidden is None and not earlier_signers:
                continue  # where the words are cannot be told: nobody's signature at stake
            clear = _clear_below(box, hidden, values, _bottom(pdf_page) if slide_down else None)
            if clear is None:
                whose = (
                    "text or a signature an earlier signer signed (their signature would then "
                    "read NOT VALID)"
                    if earlier_signers
                    else "the document's own text (it would no longer read in the signed copy)"
                )
                raise KysoError(
                    "PDF_PLACEMENT_INVALID",
                    {
                        "detail": f"the stamp on page {page + 1} would cover {whose}: place it "
                        "where the page is empty, or sign without a stamp"
                    },
                )
            if place is not None and clear != box:
                return (place[0], (clear.x1, clear.y1, clear.x2, clear.y2))
    except KysoError:
        raise
    except Exception as exc:  # the page cannot be read: pyHanko's checks judge the file
        log.debug("page unreadable before signing: %s", exc)
    finally:
        source.seek(at)
    return place


def _clear_below(
    box: Box, hidden: list[Box] | None, values: list[Box], bottom: float | None
) -> Box | None:
    """``box`` when it hides nothing; else, with a ``bottom``, the highest box further down
    that hides nothing and stays above it; else None."""
    if hidden is None:
        return None  # where the words are cannot be told
    # Only what lies in the box's column can ever be under it on the way down.
    column = [g for g in (*hidden, *values) if box.x1 < (g.x1 + g.x2) / 2 < box.x2]
    candidate, height = box, box.y2 - box.y1
    while True:
        under = [g for g in column if candidate.covers_centre_of(g)]
        if not under:
            return candidate
        if bottom is None:
            return None
        # Just below the lowest thing it would hide (each step passes at least one line).
        top = min(g.y1 for g in under) - SLIDE_STEP
        candidate = Box(candidate.x1, top - height, candidate.x2, top)
        if candidate.y1 < bottom:
            return None


def _bottom(pdf_page: Any) -> float | None:
    """The lowest y the page shows; None on a turned page (down is another way there)."""
    try:
        if int(pdf_page.rotation) % 360:
            return None
        return max(float(pdf_page.cropbox.bottom), float(pdf_page.mediabox.bottom))
    except Exception:
        return None
