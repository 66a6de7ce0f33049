"""The consent's page preview (where a PDF's visible signature goes) as a small Tk image.

The PNG comes from the agent's own renderer (agent.signing.pdf.preview), but it is a picture
of a page a website sent, so it is checked like input before any decoder sees it: a byte cap,
the PNG signature, and the width and height read from the IHDR header, so a huge image is
refused before it is decoded. Any failure means no preview, never a failed consent.
"""

from __future__ import annotations

import io
import logging
import struct
from typing import Any

log = logging.getLogger(__name__)

MAX_PREVIEW_BYTES = 512 * 1024  # the renderer caps at 256 kB; anything bigger is not ours
MAX_SOURCE_SIDE = 2000  # pixels: the renderer makes 200; refuse decoding anything huge
SHOWN_HEIGHT = 180  # pixels on screen: enough to see where the stamp lands
SHOWN_WIDTH = 240
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: object) -> tuple[int, int] | None:
    """(width, height) of an acceptable PNG (bytes, size within limits), else None. Pure."""
    if not isinstance(data, bytes | bytearray) or not 24 < len(data) <= MAX_PREVIEW_BYTES:
        return None
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_SOURCE_SIDE and 0 < height <= MAX_SOURCE_SIDE):
        return None
    return width, height


def shown_size(width: int, height: int) -> tuple[int, int]:
    """The size on screen: scaled down (never up) to fit SHOWN_WIDTH × SHOWN_HEIGHT. Pure."""
    scale = min(1.0, SHOWN_HEIGHT / height, SHOWN_WIDTH / width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def preview_photo(master: Any, data: object) -> Any | None:
    """A Tk image of the preview, at most SHOWN_WIDTH × SHOWN_HEIGHT; None on any problem.
    Runs on the UI thread (``master`` is a widget of the dialog)."""
    size = png_size(data)
    if size is None:
        if data is not None:
            log.info("consent preview refused (not a small PNG)")
        return None
    try:
        from PIL import Image, ImageTk

        with Image.open(io.BytesIO(data)) as image:  # type: ignore[arg-type]
            if image.format != "PNG" or image.size != size:
                return None
            image.load()
            shown = image.convert("RGB").resize(shown_size(*size), Image.Resampling.LANCZOS)
        return ImageTk.PhotoImage(shown, master=master)
    except Exception as exc:  # a preview is a courtesy: nothing about it may fail the prompt
        log.info("consent preview not shown: %s: %s", type(exc).__name__, exc)
        return None
