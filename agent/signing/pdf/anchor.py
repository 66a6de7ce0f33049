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
import unicodedata
from dataclasses import dataclass
from typing import Any

from agent.errors import KysoError
from agent.signing.pdf.inspect import PdfSource, visible_area

# A stamp for a line at the end of a long file is rare; reading every page of a 200-page, 50 MB
# file for it is slow and gives a hostile file more to chew on. The page can be named instead.
MAX_ANCHOR_PAGES = 100
GAP = 4.0  # points between the anchor's descenders and the stamp
MARGIN = 10.0  # points kept from the page's edge when a stamp is shifted to fit
AVERAGE_ADVANCE = 0.5  # of the font size: a letter's average width, for offsets inside a run


@dataclass(frozen=True)
class TextHit:
    """Where an anchor's first letter is: page (1-based), baseline origin and font size in
    points, the anchor's estimated width, and the size of the page's visible area (and its
    lower-left corner in user space, where it begins: not always (0, 0))."""

    page: int
    x: float
    y: float
    size: float
    width: float
    page_size: tuple[float, float]
    page_origin: tuple[float, float] = (0.0, 0.0)


def _key(text: str) -> str:
    """What matching compares: NFC, case-folded, without any white space."""
    return "".join(unicodedata.normalize("NFC", text).casefold().split())


@dataclass
class _Run:
    start: int  # index in the page's key string
    x: float
    y: float
    size: float


def _page_runs(page: Any) -> tuple[str, list[_Run]]:
    """The page's text as one key string and the runs it was drawn in."""
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

    page.extract_text(visitor_text=visit)
    return "".join(key_parts), runs


def find_text(source: PdfSource, anchor: str, *, page: int | None = None) -> TextHit | None:
    """The first occurrence of ``anchor`` (on ``page`` only, when given), or None."""
    import pypdf

    wanted = _key(anchor)
    if not wanted:
        raise KysoError("INPUT_INVALID", {"detail": "the anchor text is empty"})
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    stream.seek(0)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not ours to show
    try:
        reader = pypdf.PdfReader(stream, strict=False)
        numbers = [page] if page is not None else range(1, len(reader.pages) + 1)
    except Exception as exc:  # pypdf raises many kinds on a hostile file
        raise KysoError("PDF_MALFORMED", {"detail": f"{type(exc).__name__}: {exc}"}) from exc
    for number in list(numbers)[:MAX_ANCHOR_PAGES]:
        if not 1 <= number <= len(reader.pages):
            raise KysoError("PDF_PLACEMENT_INVALID", {"detail": f"page {number}"})
        pdf_page = reader.pages[number - 1]
        try:
            text, runs = _page_runs(pdf_page)
        except Exception:  # a page whose text cannot be read has no anchor
            continue
        at = text.find(wanted)
        if at < 0:
            continue
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
        )
    return None


def _visible(pdf_page: Any) -> tuple[float, float, float, float]:
    """The part of the page viewers show, by the rule the consent's frame uses (pypdf gives the
    CropBox inherited, or the MediaBox): a stamp placed outside it would be refused."""
    return visible_area(pdf_page.mediabox, pdf_page.cropbox)


def place_near(hit: TextHit, size: tuple[float, float]) -> tuple[float, float, float, float]:
    """A ``size`` box just below the anchor, left-aligned with it (shifted left to stay on the
    page); beside it on the right when there is no room below. PDF_PLACEMENT_INVALID when
    neither fits."""
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
