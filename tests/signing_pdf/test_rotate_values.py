"""A page whose /Rotate is no integer (a name, a string, a real, null) opens in every reader, yet
Kyso refused to sign it visibly as PDF_MALFORMED; a string "90" or a 64-bit number was read as a
rotation poppler does not apply, so the consent's corner and red box were on the wrong side.

Kyso now reads /Rotate as poppler does (its pdftoppm draws the consent's preview): the nearest
integer up the page tree, anything else ignored as if absent; an angle that is no multiple of 90
is drawn upright (poppler and pdf.js both). Each case is judged against poppler itself: the
page's orientation in pdftoppm's rendering, and, signed with a stamp on the demo token, where
pdftoppm draws the stamp. The files are written byte by byte (pyHanko's writer writes 90.0 as
90), with the malformed-PDF tests' writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.signing.pdf import PdfSignOptions, Placement, inspect_pdf, sign_pdf
from agent.signing.pdf.preview import box_in_pixels
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import render_page
from tests.signing_pdf.test_malformed_pdfs import PAGE, raw_pdf
from tests.signing_pdf.test_preview import _bbox, _close, _stamp_red

BOX = (330.0, 60.0, 560.0, 135.0)

# name → (the page's /Rotate, the page tree root's /Rotate or None, the rotation poppler applies)
CASES: dict[str, tuple[bytes, bytes | None, int]] = {
    "a name": (b"/Ninety", None, 0),
    "a name, the parent's 90": (b"/Ninety", b"90", 90),
    "a string": (b"(90)", None, 0),
    "a real 90.5": (b"90.5", None, 0),
    "a real 90.0": (b"90.0", None, 0),
    "null, the parent's 270": (b"null", b"270", 270),
    "a boolean": (b"true", None, 0),
    "an array": (b"[90]", None, 0),
    "45": (b"45", None, 0),
    "-90": (b"-90", None, 270),
    "450": (b"450", None, 90),
    "past 32 bits": (b"1099511627866", None, 0),
}


def rotated(page_value: bytes, parent_value: bytes | None) -> bytes:
    """A one-page A4 PDF whose page (and page tree root) has these /Rotate values."""
    pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1%s >>" % (
        b" /Rotate " + parent_value if parent_value is not None else b""
    )
    return raw_pdf({2: pages, 3: PAGE % (b" /Rotate " + page_value)})


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name.replace(' ', '-').replace(',', '')}.pdf"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_the_rotation_is_the_one_poppler_draws(tmp_path: Path, name: str) -> None:
    page_value, parent_value, expected = CASES[name]
    data = rotated(page_value, parent_value)
    frame = inspect_pdf(data, size_of_pages=(1,)).page_frames[1]  # before: PDF_MALFORMED
    assert frame.rotate == expected
    drawn = render_page(_write(tmp_path, name, data), 1, tmp_path)
    assert (drawn.size[0] > drawn.size[1]) == (expected in (90, 270)), drawn.size


@pytest.mark.parametrize("name", ["a name, the parent's 90", "a real 90.5", "a string"])
async def test_the_stamp_lands_where_the_consent_says(
    demo: Any, token_service: Any, tmp_path: Path, name: str
) -> None:
    page_value, parent_value, _ = CASES[name]
    data = rotated(page_value, parent_value)
    facts = inspect_pdf(data, size_of_pages=(1,))
    async with token_signer(token_service, demo, "org") as signer:
        result = await sign_pdf(
            data, signer, PdfSignOptions(placement=Placement(1, BOX)), facts=facts
        )
    drawn = render_page(_write(tmp_path, name, result.document), 1, tmp_path)
    expected = box_in_pixels(facts.page_frames[1], BOX, drawn.size)
    stamp = _bbox(drawn, _stamp_red)
    assert _close(stamp, expected, 3), (stamp, expected)
