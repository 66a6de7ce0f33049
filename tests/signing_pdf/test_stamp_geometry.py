"""Where the sneaky-signature check finds a page's words (agent.signing.pdf.overlay), against
the layouts review 35 showed it misreading: an amount set apart on its label's line, text
inside a form XObject, text turned by a matrix, TJ spacing, two-byte fonts; and its budgets,
which fail closed. Pure logic on hand-written pages: no token, no signing."""

from __future__ import annotations

import io
import time
from typing import Any

from agent.signing.pdf import glyphs as glyph_module
from agent.signing.pdf.glyphs import Box, text_boxes
from agent.signing.pdf.overlay import draws_over
from tests.signing_pdf.conftest import make_pdf


def _page_pdf(
    content: bytes,
    forms: dict[str, tuple[bytes, tuple[float, ...]]] | None = None,
    font: dict[str, Any] | None = None,
    links: int = 0,
    rotate: int = 0,
) -> bytes:
    """One A4 page drawing ``content`` in Helvetica (/F1; ``font`` replaces or adds entries
    of its dictionary), with form XObjects ``forms`` (name → content, /Matrix) and ``links``
    tiny link annotations."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
                **{pdf_name(k): v for k, v in (font or {}).items()},
            }
        )
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
    )
    xobjects = generic.DictionaryObject()
    for name, (data, matrix) in (forms or {}).items():
        form = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 2000, 2000)]
                ),
                pdf_name("/Matrix"): generic.ArrayObject([generic.FloatObject(v) for v in matrix]),
                pdf_name("/Resources"): resources,
            },
            stream_data=data,
        )
        xobjects[pdf_name(name)] = writer.add_object(form)
    if xobjects:
        resources[pdf_name("/XObject")] = xobjects
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            pdf_name("/Resources"): resources,
            pdf_name("/Contents"): writer.add_object(generic.StreamObject(stream_data=content)),
            pdf_name("/Rotate"): generic.NumberObject(rotate),
        }
    )
    if links:
        link = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Link"),
                pdf_name("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 1, 1)]
                ),
            }
        )
        page[pdf_name("/Annots")] = generic.ArrayObject(
            [writer.add_object(generic.DictionaryObject(link)) for _ in range(links)]
        )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _glyphs(document: bytes, deadline: float | None = None) -> list[Box] | None:
    from pypdf import PdfReader

    return text_boxes(PdfReader(io.BytesIO(document)).pages[0], deadline)


def _covers(document: bytes, *box: float) -> bool:
    return draws_over(Box(*box), _glyphs(document))


def test_an_amount_set_apart_on_its_labels_line_is_found_where_it_is_drawn() -> None:
    row = _page_pdf(b"BT /F1 12 Tf 72 700 Td (Tong cong:) Tj 380 0 Td (1.000.000.000 VND) Tj ET")
    assert _covers(row, 440, 690, 560, 720)  # over the amount alone
    assert not _covers(row, 200, 690, 430, 720)  # the gap between label and amount
    # The same line as one TJ with a wide space in it.
    spaced = _page_pdf(b"BT /F1 12 Tf 72 700 Td [(Tong cong:) -30000 (1.000.000 VND)] TJ ET")
    assert _covers(spaced, 440, 690, 560, 720)
    assert not _covers(spaced, 200, 690, 400, 720)


def test_text_in_a_form_xobject_is_found_through_the_pages_matrix_and_the_forms() -> None:
    page = _page_pdf(
        b"q 1 0 0 1 0 600 cm /X1 Do Q",
        {"/X1": (b"BT /F1 14 Tf 72 60 Td (So tien: 5.000.000 dong) Tj ET", (1, 0, 0, 1, 0, 100))},
    )
    assert _covers(page, 60, 740, 400, 800)  # drawn at y = 60 + 100 + 600
    assert not _covers(page, 60, 40, 280, 110)  # the form's own origin is empty on the page


def test_text_turned_by_a_matrix_is_found_along_its_line() -> None:
    # Landscape content turned onto a portrait page: the line runs up the page from y = 100.
    page = _page_pdf(
        b"q 0 1 -1 0 595 0 cm BT /F1 12 Tf 100 300 Td (Landscape report total 123456789) Tj ET Q"
    )
    assert _covers(page, 270, 250, 310, 330)  # the end of the line, far above its start
    assert not _covers(page, 270, 400, 310, 600)  # past its end


def test_two_byte_fonts_are_read_glyph_by_glyph() -> None:
    line = "Tổng tiền: 5.000.000 đồng"
    document = make_pdf(1, lines=[(1, line, 72, 500)])
    glyphs = _glyphs(document)
    assert glyphs is not None
    on_the_line = [g for g in glyphs if 495 < g.y1 < 510]
    # One box per glyph but the spaces: at least the line's letters, not one per byte.
    assert len(line.replace(" ", "")) <= len(on_the_line) < 2 * len(line)
    assert draws_over(Box(60, 490, 400, 515), glyphs)
    assert not draws_over(Box(60, 300, 400, 400), glyphs)


def test_a_stamp_touching_the_edge_of_a_line_hides_nothing() -> None:
    page = _page_pdf(b"BT /F1 12 Tf 72 700 Td (Dai dien ben A) Tj ET")
    assert not _covers(page, 60, 600, 300, 701)  # reaches the baseline, below the glyphs' middle
    assert _covers(page, 60, 600, 300, 706)


def test_one_odd_operator_does_not_hide_the_pages_other_words() -> None:
    page = _page_pdf(b"1 0 cm /Nope Tf (x) Tz BT /F1 12 Tf 72 700 Td (So tien) Tj ET")
    assert _covers(page, 60, 690, 200, 720)


def test_a_page_too_costly_or_unreadable_counts_as_covered() -> None:
    heavy = _page_pdf(b"BT /F1 1 Tf " + b"(a) Tj\n" * 260_000 + b"ET")
    assert _glyphs(heavy) is None  # past MAX_PAGE_OPERATORS
    assert draws_over(Box(500, 10, 590, 20), None)
    unparsable = _page_pdf(b"BT /F1 12 Tf 72 700 Td (So tien) Tj ET q <<")
    assert _glyphs(unparsable) is None
    big = _page_pdf(b"%" + b" " * (glyph_module.MAX_PAGE_CONTENT_BYTES + 1) + b"\n")
    assert _glyphs(big) is None


def test_a_time_budget_spent_counts_as_covered(monkeypatch: Any) -> None:
    many = _page_pdf(b"BT /F1 1 Tf " + b"(a) Tj\n" * 5000 + b"ET")
    assert _glyphs(many) is not None
    assert _glyphs(many, deadline=time.monotonic() - 1) is None


def test_a_fonts_widths_move_the_pen_but_not_the_ink() -> None:
    """Huge /Widths with a negative Tc that brings the pen back: a reader draws the line where
    it always was; the glyph boxes must stay there too (red team 29)."""
    from pyhanko.pdf_utils import generic

    widths = generic.ArrayObject([generic.NumberObject(100_000)] * 224)
    font = {"/FirstChar": generic.NumberObject(32), "/Widths": widths}
    line = b"BT /F1 12 Tf -1193.33 Tc 72 700 Td (Tong tien: 1.000.000 VND) Tj ET"
    page = _page_pdf(line, font=font)
    assert _covers(page, 60, 690, 300, 720)
    # A code outside /Widths moves the pen by /MissingWidth (0 by default), as readers do.
    narrow = _page_pdf(
        b"BT /F1 12 Tf 72 700 Td (ABCDEFGHIJKLMNOP) Tj ET",
        font={"/FirstChar": generic.NumberObject(200), "/Widths": generic.ArrayObject([])},
    )
    assert _covers(narrow, 60, 690, 90, 720) and not _covers(narrow, 120, 690, 300, 720)


def test_a_type3_font_counts_as_unreadable() -> None:
    """A Type3 glyph is a procedure that may draw anywhere: the page counts as covered."""
    from pyhanko.pdf_utils import generic

    page = _page_pdf(
        b"BT /F1 12 Tf 100 700 Td (a) Tj ET",
        font={"/Subtype": generic.NameObject("/Type3")},
    )
    assert _glyphs(page) is None


def test_leader_lines_hide_no_words_but_a_decimal_point_counts() -> None:
    page = _page_pdf(
        b"BT /F1 12 Tf 330 200 Td (______________________) Tj ET "
        b"BT /F1 12 Tf 72 400 Td (Ho ten: .................) Tj ET "
        b"BT /F1 12 Tf 72 600 Td (1.5) Tj ET"
    )
    assert not _covers(page, 320, 190, 560, 215)  # a signature line
    assert not _covers(page, 130, 390, 300, 415)  # a fill-in line of dots
    assert _covers(page, 60, 590, 100, 615)  # "1.5": its digits and point count


def test_too_many_annotations_make_the_survey_incomplete() -> None:
    from pypdf import PdfReader

    from agent.signing.pdf.widgets import MAX_ANNOTATIONS_PER_PAGE, survey

    full = _page_pdf(b"", links=MAX_ANNOTATIONS_PER_PAGE)
    over = _page_pdf(b"", links=MAX_ANNOTATIONS_PER_PAGE + 1)
    assert survey(PdfReader(io.BytesIO(full))).complete
    assert not survey(PdfReader(io.BytesIO(over))).complete


def test_need_appearances_turned_on_redraws_every_widget() -> None:
    from agent.signing.pdf.widgets import Survey, Widget, redrawn

    widget = Widget((7, 0), 0, Box(0, 0, 10, 10), "SoTien", True, frozenset({7}), "")
    before = Survey(widgets=[widget], locations={7: ("offset", 0, 100)})
    same = Survey(widgets=[widget], locations={7: ("offset", 0, 100)})
    assert redrawn(before, same) == set()
    assert redrawn(before, Survey(widgets=[widget], locations={7: ("offset", 0, 900)})) == {(7, 0)}
    needed = Survey(widgets=[widget], locations=same.locations, need_appearances=True)
    assert redrawn(before, needed) == {(7, 0)}


def _differences(*entries: Any) -> dict[str, Any]:
    from pyhanko.pdf_utils import generic

    items = [
        generic.NumberObject(e) if isinstance(e, int) else generic.NameObject(e) for e in entries
    ]
    encoding = generic.DictionaryObject(
        {generic.NameObject("/Differences"): generic.ArrayObject(items)}
    )
    return {"/Encoding": encoding}


def test_leaders_are_known_by_the_glyph_drawn_not_the_code() -> None:
    """Codes 95 and 46 drawn as "1" and "0" show an amount, not a leader line (red team 30);
    an embedded font may draw anything under any name, so none of its glyphs are leaders."""
    from pyhanko.pdf_utils import generic

    amount = b"BT /F1 12 Tf 72 700 Td (_......) Tj ET"
    assert _covers(_page_pdf(amount, font=_differences(95, "/one", 46, "/zero")), 60, 690, 200, 720)
    assert not _covers(_page_pdf(amount), 60, 690, 200, 720)
    embedded = {
        "/FontDescriptor": generic.DictionaryObject(
            {generic.NameObject("/FontFile2"): generic.NullObject()}
        )
    }
    assert _covers(_page_pdf(amount, font=embedded), 60, 690, 200, 720)


def test_a_core_fonts_widths_follow_the_glyphs_its_differences_name() -> None:
    """Twenty "i" codes drawn as "W" (0.944 em each, not 0.222) put the amount after them
    about 170 pt further right than the codes' own widths would (red team 30)."""
    line = b"BT /F1 12 Tf 72 700 Td (iiiiiiiiiiiiiiiiiiii 1.000.000) Tj ET"
    page = _page_pdf(line, font=_differences(105, "/W"))
    assert _covers(page, 300, 690, 400, 720)  # the amount, after 20 x 11.3 pt of "W"
    assert not _covers(_page_pdf(line), 300, 690, 400, 720)  # as "i": it ends near x = 190


def test_a_norotate_widget_on_a_turned_page_may_land_outside_its_box() -> None:
    """NoRotate: viewers draw the appearance unturned, pivoting on a corner, away from /Rect
    (red team 31: a stamp in a blank band drawn over the amount). The survey takes every
    place it may land; without the flag, or on an unturned page, /Rect is where it is."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pypdf import PdfReader

    from agent.signing.pdf.widgets import survey

    def with_widget(document: bytes, flags: int) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(document))
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        widget = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (315, 515, 415, 535)]
                ),
                pdf_name("/F"): generic.NumberObject(flags),
            }
        )
        page[pdf_name("/Annots")] = generic.ArrayObject([writer.add_object(widget)])
        writer.update_container(page)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    def box(document: bytes) -> Box:
        [widget] = survey(PdfReader(io.BytesIO(document))).widgets
        return widget.box

    rect = Box(315, 515, 415, 535)
    turned = _page_pdf(b"", rotate=270)
    assert box(with_widget(turned, 4)) == rect
    swung = box(with_widget(turned, 4 | 16))
    assert swung.covers_centre_of(Box(300, 400, 310, 520))  # below the corner, as turned
    assert box(with_widget(_page_pdf(b""), 4 | 16)) == rect


def test_a_font_shared_by_many_fields_is_walked_once() -> None:
    """300 fields whose appearances share one font of 700 widths: walked per widget, the
    survey ran out of budget and would have called every earlier signature unchecked once
    anyone signed after it (red team 31). Shared objects are walked once."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pypdf import PdfReader

    from agent.signing.pdf.widgets import survey

    writer = IncrementalPdfFileWriter(io.BytesIO(_page_pdf(b"")))
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/TrueType"),
                pdf_name("/Widths"): generic.ArrayObject([generic.NumberObject(500)] * 700),
            }
        )
    )
    resources = writer.add_object(
        generic.DictionaryObject(
            {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F"): font})}
        )
    )
    widgets = []
    for i in range(300):
        look = writer.add_object(
            generic.StreamObject(
                {pdf_name("/Resources"): resources}, stream_data=b"BT /F 9 Tf (1) Tj ET"
            )
        )
        rect = generic.ArrayObject([generic.NumberObject(v) for v in (10, i, 20, i + 1)])
        widgets.append(
            writer.add_object(
                generic.DictionaryObject(
                    {
                        pdf_name("/Subtype"): pdf_name("/Widget"),
                        pdf_name("/Rect"): rect,
                        pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): look}),
                    }
                )
            )
        )
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[pdf_name("/Annots")] = generic.ArrayObject(widgets)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    found = survey(PdfReader(io.BytesIO(out.getvalue())))
    assert found.complete and len(found.widgets) == 300
    shared = {font.idnum, resources.idnum}
    assert all(shared <= w.draws_with for w in found.widgets)  # a change to the font counts
