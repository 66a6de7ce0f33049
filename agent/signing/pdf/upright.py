"""The visible stamp upright on a page turned by /Rotate (scanners and "rotate page" leave it).

pyHanko draws a widget's appearance in the page's own (unturned) space: on a page shown turned
by 90° the stamp's lines ran down the page, upside down at 180°. The stamp is laid out in the
box as the reader sees it (width and height swapped for 90° and 270°), and its form gets a
/Matrix that turns it back against the page's rotation. A viewer fits the turned form into the
widget's /Rect, so the field stays where it was placed. (The NoRotate flag is no answer: it
pins the stamp's upper-left corner and can push it off the page.)

Imported when a visible signature is drawn: it loads pyHanko.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.stamp import TextStamp, TextStampStyle

# /Rotate turns the page clockwise for display: the stamp is turned the other way.
_MATRIX = {
    90: (0, 1, -1, 0, 0, 0),
    180: (-1, 0, 0, -1, 0, 0),
    270: (0, -1, 1, 0, 0, 0),
}


@dataclass(frozen=True)
class UprightTextStampStyle(TextStampStyle):
    """pyHanko's text stamp, drawn upright on a page shown turned by ``rotate`` degrees."""

    rotate: int = 0

    def create_stamp(self, writer: Any, box: BoxConstraints, text_params: dict[str, Any]) -> Any:
        """The stamp for the widget's ``box`` (page space), laid out as the reader sees it."""
        if self.rotate in (90, 270) and box.width_defined and box.height_defined:
            box = BoxConstraints(width=box.height, height=box.width)
        return _UprightTextStamp(writer=writer, style=self, box=box, text_params=text_params)


class _UprightTextStamp(TextStamp):
    def as_form_xobject(self) -> generic.StreamObject:
        form = super().as_form_xobject()
        rotate = getattr(self.style, "rotate", 0)
        if rotate in _MATRIX:
            form[generic.pdf_name("/Matrix")] = generic.ArrayObject(
                generic.NumberObject(value) for value in _MATRIX[rotate]
            )
        return form
