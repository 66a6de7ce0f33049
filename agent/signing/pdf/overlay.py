"""Later signatures' stamps drawn over text an earlier signature covers ("sneaky signature").

A later signer may add a signature field of their own; an earlier signature allows that (it is
how a second person signs). But the field's appearance is the later signer's drawing: a white
box over the whole page, or over one amount, with other words in it, shows the reader a page
the first signer never signed, while pyHanko (rightly) calls the update "form filling". So a
stamp added after a signature and drawn over text of the page that signature covers makes that
signature not valid here: where a person looks, the signed words may be hidden.

Text only, by design: a stamp over a scanned page's image (every stamp is) or over lines is
the ordinary case; a stamp over words is what hides them. Positions come from pypdf's text
extraction (each run's start and font size; its width estimated), so the test is about where
the words are, not exact glyph boxes. A page pypdf cannot read counts as no text (the rest of
the verification still stands). Pure logic on bytes; no I/O.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from agent.errors import KysoError

log = logging.getLogger(__name__)

# Later signature fields looked at per file (a file signed by more people than this is rare).
MAX_LATER_STAMPS = 16
# A run of text is taken to be this wide per character, in font-size units (Latin and
# Vietnamese average about half an em; erring wide finds more overlaps, never fewer).
CHAR_WIDTH_EM = 0.6
# How far a stamp may reach into a line's box before it counts as drawn over it (points):
# rounding in the producers' numbers and a stamp touching a line above it are not an overlay.
TOUCH_TOLERANCE = 1.0
# What one page's text may cost to read (pypdf parses a whole stream before its first operator):
# past it the page counts as covered, since where its words are cannot be told.
MAX_PAGE_CONTENT_BYTES = 8_000_000
MAX_PAGE_OPERATORS = 500_000


class _OverBudget(Exception):
    """A page's text went past what the check reads."""


@dataclass(frozen=True)
class Box:
    """A rectangle in the page's default user space (points, origin bottom-left)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def of(cls, values: Any) -> Box | None:
        """A widget's /Rect normalised, or None when it is not four numbers or has no area."""
        try:
            x1, y1, x2, y2 = (float(v) for v in values)
        except (TypeError, ValueError):
            return None
        box = cls(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        return box if box.x2 - box.x1 > 0 and box.y2 - box.y1 > 0 else None

    def overlaps(self, other: Box, tolerance: float = TOUCH_TOLERANCE) -> bool:
        """Whether the two share more than ``tolerance`` points each way."""
        return (
            min(self.x2, other.x2) - max(self.x1, other.x1) > tolerance
            and min(self.y2, other.y2) - max(self.y1, other.y1) > tolerance
        )


@dataclass(frozen=True)
class Stamp:
    """A signature field's widget as the final file shows it: its field, page and box."""

    field: str
    page: int
    box: Box


def covering_stamps(
    document: bytes,
    signed_end: int,
    later: Mapping[str, int],
    stamps: list[Stamp] | None = None,
) -> tuple[str, ...]:
    """The fields among ``later`` (signature field name → the end of the revision it signed)
    whose stamp in ``document`` is drawn over text of the same page as it stood in the
    revision ending at ``signed_end`` (the one the signature under test covers).
    ``stamps``: :func:`signature_stamps` of ``document``, when already read."""
    after = {name for name, end in later.items() if end > signed_end}
    if not after:
        return ()
    if stamps is None:
        stamps = signature_stamps(document)
    stamps = [s for s in stamps if s.field in after][:MAX_LATER_STAMPS]
    if not stamps:
        return ()
    from pypdf import PdfReader

    try:
        signed = PdfReader(io.BytesIO(document[:signed_end]), strict=False)
        pages = list(signed.pages)
    except Exception as exc:  # pypdf's own errors are many; the revision is pyHanko's verdict
        log.debug("signed revision unreadable for the stamp check: %s", exc)
        return ()
    covering: list[str] = []
    text_by_page: dict[int, list[Box] | None] = {}
    for stamp in stamps:
        if stamp.page >= len(pages):
            continue  # a page added later: pyHanko calls that more than form filling
        if stamp.page not in text_by_page:
            text_by_page[stamp.page] = text_boxes(pages[stamp.page])
        if draws_over(stamp.box, text_by_page[stamp.page]):
            covering.append(stamp.field)
    return tuple(dict.fromkeys(covering))


def draws_over(box: Box, lines: list[Box] | None) -> bool:
    """Whether a stamp in ``box`` is drawn over any of the page's ``lines`` of text (None: a
    page too costly to read, which counts as covered)."""
    return lines is None or any(box.overlaps(line) for line in lines)


def signature_stamps(document: bytes) -> list[Stamp]:
    """Every signature field's widget with an area on a page of ``document`` (the pages'
    /Annots, as a viewer draws them), with the field's full name."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(document), strict=False)
        pages = list(reader.pages)
    except Exception as exc:
        log.debug("file unreadable for the stamp check: %s", exc)
        return []
    stamps = []
    for index, page in enumerate(pages):
        try:
            annotations = page.get("/Annots")
            annotations = annotations.get_object() if annotations is not None else []
            for ref in list(annotations)[:1000]:
                widget = ref.get_object()
                if not hasattr(widget, "get") or widget.get("/Subtype") != "/Widget":
                    continue
                name, field_type = _field_of(widget)
                box = Box.of(widget.get("/Rect"))
                if field_type == "/Sig" and name and box is not None:
                    stamps.append(Stamp(name, index, box))
        except Exception as exc:  # one odd page or annotation: the others are still looked at
            log.debug("page %d's annotations unreadable: %s", index + 1, exc)
    return stamps


def _field_of(widget: Any) -> tuple[str, str]:
    """The full field name ("a.b.c") and field type of a widget (merged with its field, or
    a kid of it), following /Parent at most 32 levels."""
    names: list[str] = []
    field_type = ""
    node: Any = widget
    for _ in range(32):
        if node is None or not hasattr(node, "get"):
            break
        if "/T" in node:
            names.append(str(node["/T"]))
        if not field_type and "/FT" in node:
            field_type = str(node["/FT"])
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return ".".join(reversed(names)), field_type


def text_boxes(page: Any) -> list[Box] | None:
    """Where the page's runs of text are drawn, estimated from each run's start, size and
    length (see :data:`CHAR_WIDTH_EM`); None when reading them would cost more than
    :data:`MAX_PAGE_CONTENT_BYTES` or :data:`MAX_PAGE_OPERATORS` (a hostile page); no boxes
    when pypdf cannot read the page."""
    found: list[Box] = []
    operators = 0

    def count(*_args: Any) -> None:
        nonlocal operators
        operators += 1
        if operators > MAX_PAGE_OPERATORS:
            raise _OverBudget

    def visit(text: str, cm: Any, tm: Any, _font: Any, font_size: float) -> None:
        if not text.strip():
            return
        a, b, c, d, e, f = _multiply(tm, cm)
        size = abs(font_size) * max(abs(d), abs(b), abs(a), abs(c)) or abs(font_size)
        x, y = e, f
        width = len(text.strip()) * size * CHAR_WIDTH_EM
        # From the descenders to the ascenders of the run's line.
        found.append(Box(x, y - 0.25 * size, x + width, y + 0.85 * size))

    try:
        contents = page.get_contents()
        if contents is not None and len(contents.get_data()) > MAX_PAGE_CONTENT_BYTES:
            return None
        page.extract_text(visitor_text=visit, visitor_operand_before=count)
    except _OverBudget:
        return None
    except Exception as exc:
        log.debug("page text unreadable for the stamp check: %s", exc)
    return found


def check_stamp_clear(source: BinaryIO, page: int, box: tuple[float, float, float, float]) -> None:
    """Before signing a file that already carries signatures: PDF_PLACEMENT_INVALID when the
    new stamp (``page`` 1-based, ``box`` in user space) would be drawn over text, which would
    make the earlier signatures NOT VALID (:func:`covering_stamps`)."""
    from pypdf import PdfReader

    stamp = Box.of(box)
    if stamp is None:
        return
    at = source.tell()
    try:
        lines = text_boxes(PdfReader(source, strict=False).pages[page - 1])
    except Exception as exc:  # the page's text cannot be read: nothing to keep clear
        log.debug("page text unreadable before signing: %s", exc)
        return
    finally:
        source.seek(at)
    if draws_over(stamp, lines):
        raise KysoError(
            "PDF_PLACEMENT_INVALID",
            {
                "detail": f"the stamp on page {page} would cover text an earlier signer signed "
                "(their signature would then read NOT VALID): choose an empty place with "
                "--box, or sign without a stamp"
            },
        )


def _multiply(m: Any, n: Any) -> tuple[float, float, float, float, float, float]:
    """The PDF matrix product m × n (six numbers each)."""
    a1, b1, c1, d1, e1, f1 = (float(v) for v in m)
    a2, b2, c2, d2, e2, f2 = (float(v) for v in n)
    return (
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    )
