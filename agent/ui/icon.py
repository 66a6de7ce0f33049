"""Kyso's icon, drawn with Pillow: a red seal (con dấu) with a white key. No image files needed."""

from __future__ import annotations

from PIL import Image, ImageDraw

SEAL_RED = (198, 40, 40, 255)
PAUSED_GREY = (120, 120, 120, 255)
WHITE = (255, 255, 255, 255)


def draw_icon(size: int = 64, *, paused: bool = False) -> Image.Image:
    """The icon at ``size`` pixels (drawn 4x larger, then scaled down for smooth edges)."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    s = big / 64  # design grid: 64 units
    color = PAUSED_GREY if paused else SEAL_RED
    d.ellipse((1 * s, 1 * s, 63 * s, 63 * s), fill=color)
    d.ellipse((5 * s, 5 * s, 59 * s, 59 * s), outline=WHITE, width=round(2.5 * s))
    # The key: a ring on the left, a shaft to the right, two teeth hanging down.
    d.ellipse((13 * s, 22 * s, 31 * s, 40 * s), outline=WHITE, width=round(5 * s))
    d.rectangle((29 * s, 28.5 * s, 52 * s, 33.5 * s), fill=WHITE)
    d.rectangle((41 * s, 33 * s, 45 * s, 40 * s), fill=WHITE)
    d.rectangle((48 * s, 33 * s, 52 * s, 42 * s), fill=WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)
