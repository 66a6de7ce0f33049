"""A page shown turned by /Rotate (scanners and "rotate page" leave it): the visible stamp reads
upright for the person looking at the page, and a stamp placed by an anchor goes below the text
as shown (interop round 22: the stamp's lines ran down a page turned by 90°, upside down at
180°; the anchor put it beside the text as a tall narrow column). poppler's pdftotext reads the
page as a viewer shows it."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
from pathlib import Path

import pytest

from agent.signing.pdf import PdfSignOptions, Placement, sign_pdf
from agent.signing.pdf.anchor import TextHit, place_near
from agent.signing.signer import SoftwareSigner
from tests.tokens.crafted_certs import self_signed_signer

from .conftest import make_pdf

WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def _signer() -> SoftwareSigner:
    return self_signed_signer("Cong ty Xoay Trang")


def _turned(data: bytes, degrees: int) -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.pdf_name("/Rotate")] = generic.NumberObject(degrees)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _shown_lines(pdf: Path) -> dict[str, tuple[float, float, float, float]]:
    """The stamp's two lines as poppler shows the page: (x1, y1, x2, y2), y growing down."""
    text = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines = {}
    for x1, y1, x2, y2, word in WORD.findall(text):
        for start in ("Ký bởi", "Ngày ký"):
            if word.startswith(start):
                lines[start] = (float(x1), float(y1), float(x2), float(y2))
    return lines


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_the_stamp_reads_upright_on_a_turned_page(degrees: int, tmp_path: Path) -> None:
    options = PdfSignOptions(placement=Placement(1, (300, 100, 520, 170)))
    signed = asyncio.run(sign_pdf(_turned(make_pdf(1), degrees), _signer(), options))
    (tmp_path / "signed.pdf").write_bytes(signed.document)
    lines = _shown_lines(tmp_path / "signed.pdf")
    assert set(lines) == {"Ký bởi", "Ngày ký"}, lines
    for x1, y1, x2, y2 in lines.values():
        assert x2 - x1 > y2 - y1, lines  # a line runs across the page as shown, not down it
    # The signer's line above the date's (upside down, it would be below), left-aligned.
    assert lines["Ký bởi"][1] < lines["Ngày ký"][1], lines
    assert lines["Ký bởi"][0] == pytest.approx(lines["Ngày ký"][0], abs=1), lines


def _shown_box(
    box: tuple[float, float, float, float], degrees: int, w: float, h: float
) -> tuple[float, float, float, float]:
    """A user-space box as a viewer shows it (origin at the shown lower-left corner)."""

    def shown(x: float, y: float) -> tuple[float, float]:
        return {90: (y, w - x), 180: (w - x, h - y), 270: (h - y, x)}.get(degrees, (x, y))

    (ax, ay), (bx, by) = shown(box[0], box[1]), shown(box[2], box[3])
    return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_an_anchored_stamp_goes_below_the_text_as_the_page_is_shown(degrees: int) -> None:
    w, h = 595.0, 842.0  # A4 in user space; shown 842 wide when turned by 90 or 270
    # The anchor where a viewer shows it at (100, 400) from the shown lower-left corner.
    shown_anchor = (100.0, 400.0)
    user = {
        90: (w - shown_anchor[1], shown_anchor[0]),
        180: (w - shown_anchor[0], h - shown_anchor[1]),
        270: (shown_anchor[1], h - shown_anchor[0]),
    }[degrees]
    hit = TextHit(1, user[0], user[1], 12.0, 60.0, (w, h), rotate=degrees)
    x1, y1, x2, y2 = _shown_box(place_near(hit, (220, 70)), degrees, w, h)
    assert (round(x2 - x1), round(y2 - y1)) == (220, 70)  # wide, as the stamp is laid out
    assert x1 == pytest.approx(shown_anchor[0])  # left-aligned with the anchor
    assert y2 < shown_anchor[1]  # below it


@pytest.mark.parametrize("degrees", [0, 90, 270])
def test_an_anchor_found_on_a_turned_page_knows_the_turn(degrees: int) -> None:
    from agent.signing.pdf.anchor import find_text

    hit = find_text(_turned(make_pdf(1), degrees), "Nguoi ky")
    assert hit is not None and hit.rotate == degrees
