"""What the reader itself decides to show, with no action at all: layers (optional content)
that can be off on screen and on in print, or shown by one reader and hidden by another, and a
form whose fields every reader must redraw from their values (/NeedAppearances). The consent
names each, as it names active content."""

from __future__ import annotations

from typing import Any

import pytest

from agent.signing.pdf.active import FIELDS_REDRAWN, LAYERS, PRINT_DIFFERS, WARNINGS

from .test_active_content import _a, _amend, _d, _kinds, _warnings


def _layer_off_on_screen(writer: Any, root: Any, page: Any) -> None:
    from pyhanko.pdf_utils.generic import BooleanObject

    clause = writer.add_object(_d(Type="/OCG", Name="Dieu 9", Usage=_d(Print=_d(PrintState="/ON"))))
    default = _d(OFF=_a(clause), AS=_a(_d(Event="/Print", Category=["/Print"], OCGs=_a(clause))))
    default["/ListMode"] = BooleanObject(True)  # anything else in the dictionary: still read
    root["/OCProperties"] = _d(OCGs=_a(clause), D=default)


def _redrawn(flag: bool) -> Any:
    def edit(writer: Any, root: Any, page: Any) -> None:
        from pyhanko.pdf_utils.generic import BooleanObject

        form = _d(Fields=_a())
        form["/NeedAppearances"] = BooleanObject(flag)
        root["/AcroForm"] = form

    return edit


def test_layers_are_named_in_the_consent() -> None:
    document = _amend(_layer_off_on_screen)
    assert _kinds(document) == (LAYERS,)
    assert _warnings(document) == [f"{WARNINGS[LAYERS][0]} / {WARNINGS[LAYERS][1]}"]


@pytest.mark.parametrize(("flag", "expected"), [(True, (FIELDS_REDRAWN,)), (False, ())])
def test_fields_the_reader_redraws_are_named(flag: bool, expected: tuple[str, ...]) -> None:
    assert _kinds(_amend(_redrawn(flag))) == expected


def test_a_false_needs_rendering_is_not_an_xfa_form() -> None:
    def edit(writer: Any, root: Any, page: Any) -> None:
        from pyhanko.pdf_utils.generic import BooleanObject

        root["/NeedsRendering"] = BooleanObject(False)

    assert _kinds(_amend(edit)) == ()


def _annotation(
    flags: int | None, subtype: str = "/Square", appearance: bool = True, area: bool = True
) -> Any:
    """A white box annotation over the page, with these flags (red team 38)."""

    def edit(writer: Any, root: Any, page: Any) -> None:
        from pyhanko.pdf_utils.generic import NameObject, NumberObject, StreamObject

        def numbers(*values: int) -> Any:
            return _a(*(NumberObject(v) for v in values))

        rect = numbers(50, 700, 400, 800) if area else numbers(0, 0, 0, 0)
        box = _d(Type="/Annot", Subtype=subtype, Rect=rect)
        if flags is not None:
            box["/F"] = NumberObject(flags)
        if appearance:
            white = StreamObject(
                {
                    NameObject("/Type"): NameObject("/XObject"),
                    NameObject("/Subtype"): NameObject("/Form"),
                    NameObject("/BBox"): numbers(0, 0, 350, 100),
                },
                stream_data=b"1 g 0 0 350 100 re f",
            )
            box["/AP"] = _d(N=writer.add_object(white))
        page["/Annots"] = _a(writer.add_object(box))

    return edit


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (0, (PRINT_DIFFERS,)),  # on screen, not printed: hides a clause the printout shows
        (None, (PRINT_DIFFERS,)),  # no /F is 0
        (36, (PRINT_DIFFERS,)),  # NoView|Print: printed over a clause the screen shows
        (4, ()),  # an ordinary comment: shown and printed
        (2, ()),  # Hidden: nowhere
        (32, ()),  # NoView without Print: nowhere
    ],
)
def test_an_annotation_shown_and_printed_differently_is_named(
    flags: int | None, expected: tuple[str, ...]
) -> None:
    document = _amend(_annotation(flags))
    assert _kinds(document) == expected
    if expected:
        assert _warnings(document) == [
            f"{WARNINGS[PRINT_DIFFERS][0]} / {WARNINGS[PRINT_DIFFERS][1]}"
        ]


def test_what_draws_something_counts_and_what_draws_nothing_does_not() -> None:
    """Review 39: a link or pop-up with an appearance, and a square readers draw themselves,
    hide a clause on screen as well; a link without one, a box of no area (an invisible
    signature) or a screen-only form button ("Print this form") draw nothing to hide."""
    assert _kinds(_amend(_annotation(0, subtype="/Link"))) == (PRINT_DIFFERS,)
    assert _kinds(_amend(_annotation(0, subtype="/Square", appearance=False))) == (PRINT_DIFFERS,)
    assert _kinds(_amend(_annotation(0, subtype="/Link", appearance=False))) == ()
    assert _kinds(_amend(_annotation(0, subtype="/Widget"))) == ()
    assert _kinds(_amend(_annotation(36, subtype="/Widget"))) == (PRINT_DIFFERS,)
    assert _kinds(_amend(_annotation(0, area=False))) == ()
