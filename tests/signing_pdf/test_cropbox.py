"""A page's visible area is its CropBox within its MediaBox: viewers (and ``pdftoppm -cropbox``)
show only that. A stamp outside it is refused, the consent's corner is named within it, and the
consent's picture shows it, as a viewer would.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from agent.errors import KysoError
from agent.server.consent import pdf_item
from agent.signing.pdf import PdfSignOptions, Placement, inspect_pdf
from agent.signing.pdf.preview import consent_preview
from agent.signing.pdf.sign import check_placement, choose_field
from tests.signing_pdf.conftest import make_pdf

TOP_HALF = (0.0, 421.0, 595.0, 842.0)
WHERE = "Chữ ký hiển thị / visible signature"


def cropped(
    document: bytes,
    crop: tuple[float, float, float, float],
    *,
    on_tree: bool = False,
    rotate: int = 0,
) -> bytes:
    """``document`` with a CropBox on its first page (or, ``on_tree``, on the page tree's root,
    which every page inherits), by pyHanko's incremental writer."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(document))
    pages = writer.root["/Pages"]
    target = pages if on_tree else pages["/Kids"][0].get_object()
    target["/CropBox"] = generic.ArrayObject([generic.FloatObject(v) for v in crop])
    if rotate:
        target["/Rotate"] = generic.NumberObject(rotate)
    writer.update_container(target)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _refused(facts: Any, placement: Placement) -> None:
    with pytest.raises(KysoError) as err:
        check_placement(facts, placement)
    assert err.value.code == "PDF_PLACEMENT_INVALID"


@pytest.mark.parametrize("on_tree", [False, True])
def test_a_stamp_outside_the_cropbox_is_refused(on_tree: bool) -> None:
    doc = cropped(make_pdf(2), TOP_HALF, on_tree=on_tree)
    facts = inspect_pdf(doc, size_of_pages=(1,))
    _refused(facts, Placement(1, (20, 20, 220, 80)))  # on the MediaBox, cropped away
    check_placement(facts, Placement(1, (20, 440, 220, 500)))
    assert facts.page_sizes[1] == (595.0, 421.0)


def test_a_cropbox_larger_than_the_mediabox_is_clipped_to_it() -> None:
    facts = inspect_pdf(cropped(make_pdf(1), (-100, -100, 900, 900)), size_of_pages=(1,))
    assert facts.page_frames[1].box == (0.0, 0.0, 595.0, 842.0)
    _refused(facts, Placement(1, (500, 20, 700, 80)))


def test_a_cropbox_off_the_page_leaves_no_room_for_a_stamp() -> None:
    facts = inspect_pdf(cropped(make_pdf(1), (1000, 1000, 1200, 1200)), size_of_pages=(1,))
    _refused(facts, Placement(1, (20, 20, 220, 80)))
    _refused(facts, Placement(1, (500, 700, 590, 840)))


@pytest.mark.parametrize(
    ("rotate", "corner"),
    [(0, "góc dưới bên trái / bottom left"), (90, "góc trên bên trái / top left")],
)
def test_the_corner_is_named_within_the_visible_area(rotate: int, corner: str) -> None:
    """The box sits low in the top half of the sheet: the bottom of what a viewer shows."""
    doc = cropped(make_pdf(1), TOP_HALF, rotate=rotate)
    placement = Placement(1, (20, 440, 220, 500))
    facts = inspect_pdf(doc, size_of_pages=(1,))
    assert corner in dict(pdf_item(facts, None, placement).lines)[WHERE]


def test_the_preview_shows_the_visible_area_with_the_box_in_it() -> None:
    from PIL import Image

    doc = cropped(make_pdf(1), TOP_HALF)
    placement = Placement(1, (20, 440, 220, 500))
    facts = inspect_pdf(doc, size_of_pages=(1,))
    png = consent_preview(doc, facts, placement)
    assert png is not None
    with Image.open(io.BytesIO(png)) as picture:
        page = picture.convert("RGB")
    width, height = page.size
    assert width > height  # 595 × 421: the cropped half, not the A4 sheet
    # The box is drawn where pdftoppm -cropbox puts those points: bottom left.
    inside = page.getpixel((int(width * 120 / 595), int(height * (842 - 470) / 421)))
    above = page.getpixel((int(width * 120 / 595), int(height * (842 - 600) / 421)))
    assert inside[0] - inside[1] > 30 and above[0] - above[1] < 10, (inside, above)


def test_an_existing_field_drawn_outside_the_cropbox_is_refused() -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    writer = IncrementalPdfFileWriter(io.BytesIO(cropped(make_pdf(1), TOP_HALF)))
    append_signature_field(writer, SigFieldSpec("KyDuyet", box=(20, 20, 220, 80)))
    out = io.BytesIO()
    writer.write(out)
    facts = inspect_pdf(out.getvalue())
    with pytest.raises(KysoError) as err:
        choose_field(facts, PdfSignOptions(field_name="KyDuyet"))
    assert err.value.code == "PDF_PLACEMENT_INVALID"


def test_an_anchor_places_the_stamp_within_the_visible_area() -> None:
    """Text near the crop's edge: the stamp goes beside it, not below it into the cropped-away
    part (where it would be refused, or never seen)."""
    from agent.signing.pdf.sign import resolve_anchor

    doc = make_pdf(1, lines=[(1, "Giám đốc", 72, 460)])
    doc = cropped(doc, TOP_HALF)
    options = resolve_anchor(doc, PdfSignOptions(anchor="Giám đốc"))
    assert options.placement is not None
    check_placement(inspect_pdf(doc, size_of_pages=(1,)), options.placement)


@pytest.mark.parametrize(
    "crop",
    [
        (700.0, 942.0, -50.0, 421.0),  # partly outside, its corners named top-right first
        (-50.0, 421.0, 700.0, 942.0),
        (1000.0, 1000.0, 1200.0, 1200.0),  # wholly outside: an empty area on the edge
    ],
)
def test_an_anchor_and_the_consent_see_the_same_visible_area(
    crop: tuple[float, float, float, float],
) -> None:
    """One rule frames the page for the consent's corner (pyHanko's boxes) and for an anchor's
    placement (pypdf's): poppler's, the CropBox's edges clamped into the MediaBox."""
    from agent.signing.pdf.anchor import find_text

    doc = cropped(make_pdf(1, lines=[(1, "Giám đốc", 72, 600)]), crop)
    hit = find_text(doc, "Giám đốc")
    assert hit is not None
    left, bottom = hit.page_origin
    frame = (left, bottom, left + hit.page_size[0], bottom + hit.page_size[1])
    assert frame == inspect_pdf(doc, size_of_pages=(1,)).page_frames[1].box
