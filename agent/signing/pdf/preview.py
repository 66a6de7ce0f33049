"""A small picture of the page a visible signature goes on, the stamp's box drawn on it.

The consent shows it beside the words ("trang 3, dưới bên phải") so a person sees where the
stamp lands before typing the PIN. The PDF comes from a web page, so it is untrusted: poppler's
``pdftoppm`` renders it in its own process (no shell, the bytes in an anonymous memory file or
on stdin, a time limit, an address-space limit, a cap on what it may print), and every failure
means no picture, never a failed consent. Pillow only opens the small PNG poppler wrote and draws the box.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from agent.signing.pdf.inspect import PageFrame, PdfFacts

if TYPE_CHECKING:
    from agent.signing.pdf.sign import Placement

log = logging.getLogger(__name__)

PREVIEW_SIDE = 200  # pixels, the longer side: enough to see where, too small to read
RENDER_TIMEOUT = 3.0  # seconds; a page that takes longer is not worth the wait
MAX_PNG_BYTES = 256 * 1024  # a 200 px page is a few kB; more means something is wrong
RENDER_MEMORY = 1024 * 1024 * 1024  # the renderer's address space: a bomb fails, not the host
BOX_OUTLINE = (200, 0, 0)  # the stamp's red (sign.py draws its border in 0.75, 0, 0)
BOX_FILL = (255, 80, 80, 70)  # light, so the page under the box stays visible


def renderer() -> str | None:
    """The ``pdftoppm`` to run, or None when poppler is not installed (no preview then)."""
    return shutil.which("pdftoppm")


def consent_preview(
    document: bytes | Path, facts: PdfFacts, placement: Placement | None
) -> bytes | None:
    """The consent's picture for a stamp at ``placement`` (None for an invisible signature, or
    when ``facts`` were read without that page's frame)."""
    if placement is None:
        return None
    frame = facts.page_frames.get(placement.page)
    if frame is None:
        return None
    return page_preview(document, placement.page, frame, placement.box)


def page_preview(
    document: bytes | Path,
    page: int,
    frame: PageFrame,
    box: tuple[float, float, float, float],
) -> bytes | None:
    """A PNG of ``page`` (1-based) of ``document`` (bytes, or a file read in place), its longer
    side :data:`PREVIEW_SIDE` px, with ``box`` (user-space points, as the signature field's
    /Rect) outlined and lightly filled; None when it cannot be made cheaply and safely."""
    try:
        rendered = _render(document, page)
        return None if rendered is None else _draw_box(rendered, frame, box)
    except Exception as exc:  # a preview is a courtesy: nothing about it may fail the consent
        log.info("no PDF preview: %s: %s", type(exc).__name__, exc)
        return None


def _render(document: bytes | Path, page: int) -> bytes | None:
    """poppler's PNG of one page, bounded in time, memory and size; None on any failure."""
    program = renderer()
    if program is None:
        return None
    with _source(document) as (source, stdin, fds):
        # No shell, nothing from the document on the command line; "--" ends the options.
        # -cropbox: the part of the page viewers show, the frame the box is drawn in.
        argv = [program, "-png", "-cropbox", "-f", str(page), "-l", str(page)]
        argv += ["-scale-to", str(PREVIEW_SIDE), "-singlefile", "-q", "--", source]
        return _run(argv, stdin, fds)


@contextlib.contextmanager
def _source(document: bytes | Path) -> Iterator[tuple[str, bytes | None, tuple[int, ...]]]:
    """How the renderer reads the document: a file in place; bytes from an anonymous memory
    file on Linux (private to this process and the renderer, never on disk; poppler reads
    only the pages it draws, where a pipe made it read all 50 MB: 110 ms against 60 ms), or
    from stdin elsewhere. Yields (path argument, stdin bytes, descriptors to pass)."""
    if isinstance(document, Path):
        yield str(document), None, ()
        return
    if not hasattr(os, "memfd_create"):
        yield "-", document, ()
        return
    fd = os.memfd_create("kyso-preview", os.MFD_CLOEXEC)
    try:
        with open(fd, "wb", closefd=False) as memory:
            memory.write(document)
        yield f"/dev/fd/{fd}", None, (fd,)
    finally:
        os.close(fd)


def _run(argv: list[str], stdin: bytes | None, fds: tuple[int, ...]) -> bytes | None:
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=fds,
    ) as proc:
        _limit_memory(proc.pid)
        try:
            out, _ = proc.communicate(stdin, timeout=RENDER_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            log.info("no PDF preview: the renderer took over %.0f s", RENDER_TIMEOUT)
            return None
    if proc.returncode != 0 or not out.startswith(b"\x89PNG") or len(out) > MAX_PNG_BYTES:
        return None
    return out


def _limit_memory(pid: int) -> None:
    """Cap the renderer's address space (Linux; elsewhere the time limit has to do). Limits
    survive exec, so setting them just after the fork still covers the renderer."""
    if not sys.platform.startswith("linux"):
        return
    import resource

    with contextlib.suppress(OSError, ValueError):
        resource.prlimit(pid, resource.RLIMIT_AS, (RENDER_MEMORY, RENDER_MEMORY))


def box_in_pixels(
    frame: PageFrame, box: tuple[float, float, float, float], size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``box`` (user space) as (left, top, right, bottom) pixels of a rendering of the page
    ``size`` px wide and high, following the page's /Rotate as renderers do."""
    mx1, my1, mx2, my2 = frame.box
    width, height = mx2 - mx1, my2 - my1
    rotate = frame.rotate % 360
    upright = rotate in (90, 270)
    sx = size[0] / (height if upright else width)
    sy = size[1] / (width if upright else height)
    corners = []
    for x, y in ((box[0], box[1]), (box[2], box[3])):
        x, y = x - mx1, y - my1
        u, v = {
            0: (x, height - y),
            90: (y, x),
            180: (width - x, y),
            270: (height - y, width - x),
        }.get(rotate, (x, height - y))
        corners.append((u * sx, v * sy))
    (u1, v1), (u2, v2) = corners
    return (round(min(u1, u2)), round(min(v1, v2)), round(max(u1, u2)), round(max(v1, v2)))


def _draw_box(png: bytes, frame: PageFrame, box: tuple[float, float, float, float]) -> bytes:
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(png)) as image:
        if image.format != "PNG" or max(image.size) > 2 * PREVIEW_SIDE:
            raise ValueError(f"unexpected rendering {image.format} {image.size}")
        page = image.convert("RGBA")
    left, top, right, bottom = box_in_pixels(frame, box, page.size)
    overlay = Image.new("RGBA", page.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((left, top, right, bottom), fill=BOX_FILL)
    draw.rectangle((left, top, right, bottom), outline=(*BOX_OUTLINE, 255), width=2)
    out = io.BytesIO()
    Image.alpha_composite(page, overlay).convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()
