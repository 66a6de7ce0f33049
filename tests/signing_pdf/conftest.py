"""Fixtures for PDF signing: PDFs made with pyHanko's writer, the demo TSA, poppler's pdfsig."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.server.conftest import (  # noqa: F401  (the agent harness, for sign.pdf)
    agent,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)
from tests.signing_cms.conftest import trust  # noqa: F401 - the demo PKI as a relying party


def make_pdf(
    pages: int = 2,
    *,
    title: str = "Hợp đồng lao động",
    text: str = "Nguoi ky",
    password: str | None = None,
    lines: Sequence[tuple[int, str, float, float]] = (),
) -> bytes:
    """A small PDF with ``pages`` A4 pages and a line of text on each, via pyHanko's writer
    (encrypted with ``password`` when given). ``lines``: more text as (page, text, x, y),
    set in an embedded TrueType font (DejaVu Sans) with a ToUnicode map, as office suites
    write Vietnamese."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    engine = _truetype(writer) if lines else None
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    for number in range(1, pages + 1):
        content = f"BT /F1 14 Tf 72 760 Td ({text} - trang {number}) Tj ET".encode()
        fonts = generic.DictionaryObject({pdf_name("/F1"): font})
        for _, line, x, y in (entry for entry in lines if entry[0] == number):
            assert engine is not None
            shaped = engine.shape(line).graphics_ops
            content += f"\nBT /FV 12 Tf {x} {y} Td ".encode() + shaped + b" ET"
            fonts[pdf_name("/FV")] = engine.as_resource()
        stream = generic.StreamObject(stream_data=content)
        page = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                pdf_name("/Contents"): writer.add_object(stream),
                pdf_name("/Resources"): generic.DictionaryObject({pdf_name("/Font"): fonts}),
            }
        )
        writer.insert_page(page)
    writer.set_info(generic.DictionaryObject({pdf_name("/Title"): generic.TextStringObject(title)}))
    if engine is not None:
        engine.prepare_write()  # the font subset and its ToUnicode map
    if password is not None:
        writer.encrypt(password, password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_page_frame(
    document: bytes,
    page: int = 1,
    *,
    rotate: int = 0,
    media: tuple[float, float, float, float] = (0.0, 0.0, 595.0, 842.0),
) -> bytes:
    """``document`` with ``page``'s /Rotate and /MediaBox changed, as scanners and office
    suites write them (an incremental update by pyHanko's writer: no PDF syntax by hand)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(document))
    target = writer.root["/Pages"]["/Kids"][page - 1].get_object()
    target["/Rotate"] = generic.NumberObject(rotate)
    target["/MediaBox"] = generic.ArrayObject([generic.FloatObject(v) for v in media])
    writer.update_container(target)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _truetype(writer: Any) -> Any:
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    from agent.signing.pdf.stampfont import find_font, stamp_font

    return GlyphAccumulatorFactory(str(stamp_font(find_font()))).create_font_engine(writer)


def seal_png(path: Path) -> Path:
    """A 200 × 200 PNG seal: a red disc on a fully transparent background."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((20, 20, 180, 180), fill=(220, 0, 0, 255))
    image.save(path)
    return path


def render_page(pdf: Path, page: int, out_dir: Path) -> Any:
    """``page`` rendered by poppler's pdftoppm at 72 dpi (one pixel per point), as a PIL
    image: what a reader shows, not what pyHanko thinks it wrote."""
    from PIL import Image

    tool = shutil.which("pdftoppm")
    assert tool, "pdftoppm is missing: run.sh installs poppler-utils"
    prefix = out_dir / f"{pdf.stem}-page{page}"
    subprocess.run(
        [
            tool,
            "-r",
            "72",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            "-png",
            str(pdf),
            str(prefix),
        ],
        check=True,
        timeout=60,
    )
    return Image.open(f"{prefix}.png").convert("RGB")


def pdfsig(path: Path) -> str:
    """poppler's pdfsig report of every signature (an independent verifier)."""
    tool = shutil.which("pdfsig")
    assert tool, "pdfsig is missing: run.sh installs poppler-utils"
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr
