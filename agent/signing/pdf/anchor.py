"""Text anchors: place a stamp under the first occurrence of a line such as "Giám đốc".

pyHanko writes PDFs but does not extract text, so the text and its position come from pypdf's
content-stream visitor (pure Python, no dependencies of its own, ToUnicode-aware, so Vietnamese
set in an embedded TrueType font is found too). Reading only; the signature is still pyHanko's.

Matching ignores case, Unicode normalisation form and all white space: PDF producers split a line
into words or glyph runs positioned one by one, with or without space characters between them.
"""

from __future__ import annotations

import io
import logging
import math
import time
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from agent.errors import KysoError, invalid_input
from agent.signing.pdf.fields import normalised_box
from agent.signing.pdf.inspect import PdfSource, visible_area

# A stamp for a line at the end of a long file is rare; reading every page of a 200-page, 50 MB
# file for it is slow and gives a hostile file more to chew on. The page can be named instead.
MAX_ANCHOR_PAGES = 100
GAP = 4.0  # points between the anchor's descenders and the stamp
MARGIN = 10.0  # points kept from the page's edge when a stamp is shifted to fit
AVERAGE_ADVANCE = 0.5  # of the font size: a letter's average width, for offsets inside a run
# The budget of the whole search. The search runs in a thread before the consent prompt and
# cannot be cancelled: a 10 KB file whose pages share one stream of 100,000 text operators
# took minutes. Past either limit the anchor is refused, and the page and box can be named.
ANCHOR_SEARCH_SECONDS = 5.0
MAX_ANCHOR_OPERATORS = 1_000_000  # content-stream operators read, all pages and forms together
# decoded page content, all pages together: pypdf parses a page's whole stream before its first
# operator is visited, so the operator count alone comes too late for one huge page
MAX_ANCHOR_CONTENT_BYTES = 8_000_000
DEFAULT_MEDIABOX = (0.0, 0.0, 595.0, 842.0)  # A4, what inspect_pdf's page frame assumes


class _OverBudget(Exception):
    """The anchor search went past its time or operator budget."""


@dataclass
class _Budget:
    """What is left of the search's budget; ``spend`` raises _OverBudget past it."""

    deadline: float
    operators: int
    content_bytes: int

    def read(self, size: int) -> None:
        """``size`` bytes of page content are about to be parsed."""
        self.content_bytes -= size
        if self.content_bytes < 0 or time.monotonic() > self.deadline:
            raise _OverBudget

    def spend(self) -> None:
        self.operators -= 1
        # the clock is read every 256 operators only: it costs more than the count
        if self.operators < 0 or (self.operators % 256 == 0 and time.monotonic() > self.deadline):
            raise _OverBudget


@dataclass(frozen=True)
class TextHit:
    """Where an anchor's first letter is: page (1-based), baseline origin and font size in
    points, the anchor's estimated width, and the size of the page's visible area (and its
    lower-left corner in user space, where it begins: not always (0, 0)), and the page's
    /Rotate (clockwise, as viewers show it)."""

    page: int
    x: float
    y: float
    size: float
    width: float
    page_size: tuple[float, float]
    page_origin: tuple[float, float] = (0.0, 0.0)
    rotate: int = 0


def _key(text: str) -> str:
    """What matching compares: NFC, case-folded, without any white space."""
    return "".join(unicodedata.normalize("NFC", text).casefold().split())


@dataclass
class _Run:
    start: int  # index in the page's key string
    x: float
    y: float
    size: float


def _page_runs(page: Any, budget: _Budget) -> tuple[str, list[_Run]]:
    """The page's text as one key string and the runs it was drawn in; _OverBudget when
    reading it goes past ``budget``."""
    key_parts: list[str] = []
    runs: list[_Run] = []
    length = 0

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        nonlocal length
        part = _key(text)
        if not part:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        runs.append(_Run(length, x, y, (size or 12.0) * (scale or 1.0)))
        key_parts.append(part)
        length += len(part)

    def count(*_args: Any) -> None:
        budget.spend()

    contents = page.get_contents()
    budget.read(len(contents.get_data()) if contents is not None else 0)
    page.extract_text(visitor_text=visit, visitor_operand_before=count)
    return "".join(key_parts), runs


def find_text(source: PdfSource, anchor: str, *, page: int | None = None) -> TextHit | None:
    """The first occurrence of ``anchor`` (on ``page`` only, when given), or None."""
    import pypdf

    wanted = _key(anchor)
    if not wanted:
        raise invalid_input("the anchor text is empty", "dòng chữ neo đang trống")
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    stream.seek(0)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not ours to show
    try:
        reader = pypdf.PdfReader(stream, strict=False)
        numbers = [page] if page is not None else range(1, len(reader.pages) + 1)
    except Exception as exc:  # pypdf raises many kinds on a hostile file
        raise KysoError("PDF_MALFORMED", {"detail": f"{type(exc).__name__}: {exc}"}) from exc
    budget = _Budget(
        time.monotonic() + ANCHOR_SEARCH_SECONDS, MAX_ANCHOR_OPERATORS, MAX_ANCHOR_CONTENT_BYTES
    )
    for number in list(numbers)[:MAX_ANCHOR_PAGES]:
        try:
            hit = _search_page(reader, number, wanted, budget)
        except _OverBudget:
            detail = "the file is too complex to search; name the page and box instead"
            raise KysoError("PDF_ANCHOR_NOT_FOUND", {"anchor": anchor, "detail": detail}) from None
        if hit is not None:
            return hit
    return None


def _search_page(reader: Any, number: int, wanted: str, budget: _Budget) -> TextHit | None:
    """The first occurrence of the key ``wanted`` on page ``number``, or None; _OverBudget
    when reading the page goes past ``budget``."""
    try:
        count = len(reader.pages)
    except Exception as exc:  # pypdf raises many kinds on a hostile page tree
        raise KysoError("PDF_MALFORMED", {"detail": f"{type(exc).__name__}: {exc}"}) from exc
    if not 1 <= number <= count:
        raise KysoError("PDF_PLACEMENT_INVALID", {"detail": f"page {number}"})
    try:
        pdf_page = reader.pages[int(number) - 1]
        text, runs = _page_runs(pdf_page, budget)
    except _OverBudget:
        raise
    except Exception:  # a page whose text cannot be read has no anchor
        return None
    at = text.find(wanted)
    if at < 0:
        return None
    run = max((r for r in runs if r.start <= at), key=lambda r: r.start)
    advance = AVERAGE_ADVANCE * run.size
    left, bottom, right, top = _visible(pdf_page)
    return TextHit(
        page=number,
        x=run.x + advance * (at - run.start),
        y=run.y,
        size=run.size,
        width=advance * len(wanted),
        page_size=(max(right - left, 0.0), max(top - bottom, 0.0)),
        page_origin=(left, bottom),
        rotate=_rotation(pdf_page),
    )


def _rotation(pdf_page: Any) -> int:
    """The page's /Rotate (inherited too) as 0, 90, 180 or 270; 0 when unreadable."""
    try:
        rotate = int(pdf_page.rotation) % 360
    except Exception:  # a hostile /Rotate: viewers show such a page unturned
        return 0
    return rotate if rotate in (90, 180, 270) else 0


def _visible(pdf_page: Any) -> tuple[float, float, float, float]:
    """The part of the page viewers show, by the rule the consent's frame uses (inspect_pdf's
    page frame): the CropBox clamped into the MediaBox, an unreadable MediaBox taken as A4 and
    an unreadable CropBox as the MediaBox. A stamp placed outside it would be refused. pypdf
    copies the inherited boxes into each page, so the page's own entries are the ones."""
    media = _box(pdf_page, "/MediaBox") or DEFAULT_MEDIABOX
    return visible_area(media, _box(pdf_page, "/CropBox") or media)


def _box(pdf_page: Any, key: str) -> tuple[float, float, float, float] | None:
    """The page's rectangle ``key``, or None when it is missing or not four numbers."""
    try:
        return normalised_box(pdf_page.get(key))
    except Exception:  # a dangling reference or another hostile value: no box
        return None


def place_near(hit: TextHit, size: tuple[float, float]) -> tuple[float, float, float, float]:
    """A ``size`` box just below the anchor, left-aligned with it (shifted left to stay on the
    page); beside it on the right when there is no room below; "below" and "right" as the page
    is shown, also on a page turned by /Rotate (the box is returned in user space, where the
    stamp is then drawn upright: agent.signing.pdf.upright). PDF_PLACEMENT_INVALID when
    neither fits."""
    if hit.rotate:
        shown = _shown_hit(hit)
        return _box_in_user_space(_place_unturned(shown, size), hit)
    return _place_unturned(hit, size)


def _shown_hit(hit: TextHit) -> TextHit:
    """``hit`` in the page's space as shown (origin at the shown lower-left corner)."""
    x, y = _to_shown(hit, hit.x, hit.y)
    w, h = hit.page_size
    shown_size = (h, w) if hit.rotate in (90, 270) else (w, h)
    return replace(hit, x=x, y=y, page_size=shown_size, page_origin=(0.0, 0.0), rotate=0)


def _to_shown(hit: TextHit, x: float, y: float) -> tuple[float, float]:
    left, bottom = hit.page_origin
    w, h = hit.page_size
    right, top = left + w, bottom + h
    return {
        90: (y - bottom, right - x),
        180: (right - x, top - y),
        270: (top - y, x - left),
    }.get(hit.rotate, (x - left, y - bottom))


def _to_user(hit: TextHit, dx: float, dy: float) -> tuple[float, float]:
    left, bottom = hit.page_origin
    w, h = hit.page_size
    right, top = left + w, bottom + h
    return {
        90: (right - dy, bottom + dx),
        180: (right - dx, top - dy),
        270: (left + dy, top - dx),
    }.get(hit.rotate, (left + dx, bottom + dy))


def _box_in_user_space(
    box: tuple[float, float, float, float], hit: TextHit
) -> tuple[float, float, float, float]:
    (ax, ay), (bx, by) = _to_user(hit, box[0], box[1]), _to_user(hit, box[2], box[3])
    return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))


def _place_unturned(hit: TextHit, size: tuple[float, float]) -> tuple[float, float, float, float]:
    w, h = size
    page_w, page_h = hit.page_size
    left, bottom = hit.page_origin  # the box is user space, like the anchor's position
    descent = 0.25 * hit.size
    top = hit.y - descent - GAP
    x1 = min(hit.x, left + page_w - MARGIN - w)
    if x1 >= left and top - h >= bottom:
        return (x1, top - h, x1 + w, top)
    right = hit.x + hit.width + GAP
    y1 = min(max(hit.y + hit.size / 2 - h / 2, bottom), bottom + page_h - h)
    if right + w <= left + page_w and y1 >= bottom:
        return (right, y1, right + w, y1 + h)
    raise KysoError(
        "PDF_PLACEMENT_INVALID",
        {"detail": f"no room for the stamp under or beside the text on page {hit.page}"},
    )
