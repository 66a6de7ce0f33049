"""The consent's page preview (agent.signing.pdf.preview), judged against what poppler draws.

The red box in the preview must be where the stamp really lands: each page is signed with the
same placement on the demo token, the signed page rendered by ``pdftoppm`` at 72 dpi, and the
stamp's red border found in those pixels. Pages with /Rotate 0, 90, 180 and 270 and a MediaBox
that does not start at the origin are covered, as office suites and scanners write them.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from agent.signing.pdf import PdfSignOptions, Placement, inspect_pdf, sign_pdf
from agent.signing.pdf import preview as preview_module
from agent.signing.pdf.inspect import PageFrame
from agent.signing.pdf.preview import PREVIEW_SIDE, box_in_pixels, consent_preview, page_preview
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf, render_page, with_page_frame

BOX = (330.0, 60.0, 560.0, 135.0)  # bottom right of an A4 page, as a contract's signer
A4 = (0.0, 0.0, 595.0, 842.0)


def _reddish(pixel: tuple[int, ...]) -> bool:
    """The preview's box: light red fill (R well above G and B) or its dark red outline."""
    r, g, b = pixel[:3]
    return r - g > 30 and r - b > 30


def _stamp_red(pixel: tuple[int, ...]) -> bool:
    """The stamp's own border, drawn by sign.py in RGB (0.75, 0, 0)."""
    r, g, b = pixel[:3]
    return r > 120 and g < 90 and b < 90


def _bbox(image: Any, test: Any) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels of ``image`` that pass ``test``."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    data = rgb.load()
    xs, ys = [], []
    for y in range(height):
        for x in range(width):
            if test(data[x, y]):
                xs.append(x)
                ys.append(y)
    assert xs, "no such pixels"
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def _open_png(png: bytes | None) -> Any:
    from PIL import Image

    assert png is not None and png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def _page(rotate: int, media: tuple[float, float, float, float] = A4) -> bytes:
    return with_page_frame(make_pdf(1), rotate=rotate, media=media)


def _close(found: tuple[int, ...], expected: tuple[int, ...], slack: float) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(found, expected, strict=True))


def test_a_placement_gives_a_small_png_red_inside_the_box_only() -> None:
    document = make_pdf(2)
    placement = Placement(2, BOX)
    facts = inspect_pdf(document, size_of_pages=(2,))
    image = _open_png(consent_preview(document, facts, placement))
    assert max(image.size) == PREVIEW_SIDE  # small: where, not what
    width, height = image.size
    assert height > width  # portrait A4 stays portrait
    left, top, right, bottom = box_in_pixels(facts.page_frames[2], BOX, image.size)
    # The box is bottom right, as the placement says (user space has y upwards).
    assert left > width / 2 and bottom > height * 0.8
    centre = ((left + right) // 2, (top + bottom) // 2)
    assert _reddish(image.getpixel(centre))
    # Everywhere else is the page: the top left, the mirrored place, the page's middle.
    for outside in ((5, 5), (width - centre[0], height - centre[1]), (width // 2, height // 2)):
        assert not _reddish(image.getpixel(outside)), outside
    found = _bbox(image, _reddish)
    assert _close(found, (left, top, right, bottom), 2), (found, (left, top, right, bottom))


def test_a_file_on_disk_is_previewed_in_place(tmp_path: Path) -> None:
    path = tmp_path / "hopdong.pdf"
    path.write_bytes(make_pdf(1))
    image = _open_png(page_preview(path, 1, PageFrame(A4), BOX))
    left, top, right, bottom = box_in_pixels(PageFrame(A4), BOX, image.size)
    assert _reddish(image.getpixel(((left + right) // 2, (top + bottom) // 2)))
    assert not _reddish(image.getpixel((left // 2, top // 2)))


def test_an_invisible_signature_or_an_unknown_frame_has_no_preview() -> None:
    document = make_pdf(1)
    facts = inspect_pdf(document, size_of_pages=(1,))
    assert consent_preview(document, facts, None) is None
    # Facts read without that page's frame: nothing to place the box on.
    assert consent_preview(document, inspect_pdf(document), Placement(1, BOX)) is None


@pytest.mark.parametrize(
    "hostile",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 64,
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>",
        b"",
        make_pdf(1)[:400],
    ],
    ids=["garbage", "self-referencing-pages", "empty", "truncated"],
)
def test_a_broken_or_hostile_pdf_gives_no_preview(hostile: bytes, tmp_path: Path) -> None:
    assert page_preview(hostile, 1, PageFrame(A4), BOX) is None
    path = tmp_path / "hostile.pdf"
    path.write_bytes(hostile)
    assert page_preview(path, 1, PageFrame(A4), BOX) is None


def test_a_page_past_the_end_gives_no_preview() -> None:
    assert page_preview(make_pdf(1), 7, PageFrame(A4), BOX) is None


def test_without_pdftoppm_there_is_no_preview_and_nothing_is_run(monkeypatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(preview_module, "renderer", lambda: None)
    monkeypatch.setattr(preview_module.subprocess, "Popen", lambda *a, **k: started.append(a))
    document = make_pdf(1)
    facts = inspect_pdf(document, size_of_pages=(1,))
    assert consent_preview(document, facts, Placement(1, BOX)) is None
    assert started == []


def test_a_renderer_that_writes_no_png_gives_no_preview(monkeypatch, tmp_path: Path) -> None:
    """A renderer that answers something else than a PNG (a replaced or broken pdftoppm)."""
    fake = tmp_path / "pdftoppm"
    fake.write_text("#!/bin/sh\necho '<html>not a picture</html>'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(preview_module, "renderer", lambda: str(fake))
    assert page_preview(make_pdf(1), 1, PageFrame(A4), BOX) is None


@pytest.mark.parametrize(
    ("rotate", "media"),
    [
        (0, A4),
        (90, A4),
        (180, A4),
        (270, A4),
        (90, (100.0, 50.0, 695.0, 892.0)),
        (0, (-20.0, 30.0, 575.0, 872.0)),
    ],
    ids=["0", "90", "180", "270", "90-offset", "0-offset"],
)
async def test_the_red_box_is_where_the_stamp_lands(
    demo, token_service, tmp_path: Path, rotate: int, media: tuple[float, ...]
) -> None:
    x1, y1 = media[0], media[1]
    box = (x1 + BOX[0], y1 + BOX[1], x1 + BOX[2], y1 + BOX[3])
    unsigned = _page(rotate, media)  # type: ignore[arg-type]
    facts = inspect_pdf(unsigned, size_of_pages=(1,))
    frame = facts.page_frames[1]
    assert frame.rotate == rotate and frame.box == media
    async with token_signer(token_service, demo, "org") as signer:
        result = await sign_pdf(unsigned, signer, PdfSignOptions(placement=Placement(1, box)))
    signed = tmp_path / f"signed-{rotate}.pdf"
    signed.write_bytes(result.document)
    drawn = render_page(signed, 1, tmp_path)  # 72 dpi: one pixel per point
    upright = rotate in (90, 270)
    assert (drawn.size[0] > drawn.size[1]) == upright
    stamp = _bbox(drawn, _stamp_red)
    expected = box_in_pixels(frame, box, drawn.size)
    assert _close(stamp, expected, 3), (stamp, expected)

    # The consent's preview of the unsigned page puts its red box on the same spot.
    picture = _open_png(consent_preview(unsigned, facts, Placement(1, box)))
    shown = _bbox(picture, _reddish)
    sx, sy = drawn.size[0] / picture.size[0], drawn.size[1] / picture.size[1]
    scaled = (shown[0] * sx, shown[1] * sy, shown[2] * sx, shown[3] * sy)
    assert _close(scaled, stamp, 3 * max(sx, sy)), (scaled, stamp)


def test_a_placement_is_checked_against_the_pages_own_mediabox() -> None:
    """The box is user space, like the field's /Rect: on a page whose MediaBox starts at
    (100, 50), a box there is on the page and one at the origin is off it."""
    from agent.errors import KysoError
    from agent.signing.pdf.sign import check_placement

    media = (100.0, 50.0, 695.0, 892.0)
    facts = inspect_pdf(_page(0, media), size_of_pages=(1,))
    check_placement(facts, Placement(1, (560.0, 60.0, 690.0, 130.0)))
    for off in ((0.0, 0.0, 90.0, 40.0), (600.0, 60.0, 700.0, 130.0), (200.0, 850.0, 300.0, 900.0)):
        with pytest.raises(KysoError) as err:
            check_placement(facts, Placement(1, off))
        assert err.value.code == "PDF_PLACEMENT_INVALID"
        assert "from (100, 50)" in err.value.details["detail"]


@pytest.mark.parametrize(
    ("rotate", "words"),
    [
        (0, "góc dưới bên phải / bottom right corner"),
        (90, "góc dưới bên trái / bottom left corner"),
        (180, "góc trên bên trái / top left corner"),
        (270, "góc trên bên phải / top right corner"),
    ],
)
def test_the_consent_words_name_the_corner_the_preview_shows(rotate: int, words: str) -> None:
    """The consent says where the stamp goes as a reader sees the page (after /Rotate), the
    same corner the picture shows."""
    from agent.server.consent import pdf_item

    document = with_page_frame(make_pdf(1), rotate=rotate)
    facts = inspect_pdf(document, size_of_pages=(1,))
    placement = Placement(1, BOX)
    where = dict(pdf_item(facts, "hopdong.pdf", placement).lines)[
        "Chữ ký hiển thị / visible signature"
    ]
    assert where.endswith(words), where
    png = consent_preview(document, facts, placement)
    assert png is not None
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        left, top, right, bottom = box_in_pixels(facts.page_frames[1], BOX, (width, height))
    shown_top = (top + bottom) / 2 < height / 2
    shown_right = (left + right) / 2 > width / 2
    assert ("trên" in where) == shown_top and ("phải" in where) == shown_right


def test_the_corner_is_measured_from_the_pages_own_origin() -> None:
    from agent.server.consent import pdf_item

    # A page whose MediaBox starts at (0, 842): the box near its bottom is y 850..900.
    document = with_page_frame(make_pdf(1), media=(0.0, 842.0, 595.0, 1684.0))
    facts = inspect_pdf(document, size_of_pages=(1,))
    where = dict(pdf_item(facts, None, Placement(1, (330.0, 850.0, 560.0, 900.0))).lines)
    assert where["Chữ ký hiển thị / visible signature"].endswith("bottom right corner")
