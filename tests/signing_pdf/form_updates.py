"""Incremental updates that add form fields to a PDF (pyHanko's writer), for the tests of
what a later revision may draw over an earlier signature (red team 28)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject, pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

Rect = tuple[float, float, float, float]


def _numbers(*values: float) -> generic.ArrayObject:
    return generic.ArrayObject([generic.FloatObject(v) for v in values])


def update(document: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    """``document`` with one incremental update made by ``change``."""
    writer = IncrementalPdfFileWriter(io.BytesIO(document), strict=False)
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def appearance(
    writer: IncrementalPdfFileWriter,
    rect: Rect,
    content: bytes,
    font_extra: dict[str, Any] | None = None,
) -> Any:
    """A form XObject the size of ``rect`` drawing ``content`` (Helvetica as /Helv, with
    ``font_extra`` entries in its font dictionary)."""
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
                **{pdf_name(k): v for k, v in (font_extra or {}).items()},
            }
        )
    )
    return writer.add_object(
        generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): _numbers(0, 0, rect[2] - rect[0], rect[3] - rect[1]),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/Helv"): font})}
                ),
            },
            stream_data=content,
        )
    )


def _add_to_page(writer: IncrementalPdfFileWriter, page_index: int, widget: Any) -> None:
    page = writer.root["/Pages"]["/Kids"][page_index].get_object()
    annotations = page.get("/Annots")
    if annotations is None:
        page[NameObject("/Annots")] = generic.ArrayObject([widget])
        writer.update_container(page)
        return
    annotations.get_object().append(widget)
    raw = page.raw_get("/Annots")
    if isinstance(raw, generic.IndirectObject):
        writer.mark_update(raw)
    else:
        writer.update_container(page)


def _add_to_form(writer: IncrementalPdfFileWriter, field: Any) -> None:
    form = writer.root.get("/AcroForm")
    if form is None:
        writer.root[NameObject("/AcroForm")] = generic.DictionaryObject(
            {NameObject("/Fields"): generic.ArrayObject([field])}
        )
        writer.update_root()
        return
    form = form.get_object()
    form["/Fields"].append(field)
    for raw in (writer.root.raw_get("/AcroForm"), form.raw_get("/Fields")):
        if isinstance(raw, generic.IndirectObject):
            writer.mark_update(raw)
    writer.update_root()


def shown_value(value: str) -> bytes:
    """A text field's appearance stream showing ``value``."""
    return b"/Tx BMC BT /Helv 12 Tf 2 7 Td (%s) Tj ET EMC" % value.encode()


def with_text_field(
    document: bytes,
    name: str,
    value: str,
    rect: Rect,
    *,
    with_value: bool = True,
    with_appearance: bool = True,
    field_appearance: str | None = "/Helv 12 Tf 0 g",
) -> bytes:
    """``document`` with a filled, read-only text field on page 1 (one widget merged with its
    field, an appearance showing ``value``), as tax and e-invoice forms carry amounts;
    ``with_value=False``: the appearance alone shows it (no /V); ``with_appearance=False``:
    no appearance, viewers draw the value from /DA and the form's /DR; ``field_appearance``:
    the field's /DA (None: it inherits the form's)."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        field = writer.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/FT"): pdf_name("/Tx"),
                    pdf_name("/T"): generic.TextStringObject(name),
                    **(
                        {pdf_name("/DA"): generic.TextStringObject(field_appearance)}
                        if field_appearance is not None
                        else {}
                    ),
                    pdf_name("/Ff"): generic.NumberObject(1),
                    pdf_name("/Type"): pdf_name("/Annot"),
                    pdf_name("/Subtype"): pdf_name("/Widget"),
                    pdf_name("/Rect"): _numbers(*rect),
                    pdf_name("/P"): writer.root["/Pages"]["/Kids"][0],
                    pdf_name("/F"): generic.NumberObject(4),
                    **(
                        {
                            pdf_name("/AP"): generic.DictionaryObject(
                                {pdf_name("/N"): appearance(writer, rect, shown_value(value))}
                            )
                        }
                        if with_appearance
                        else {}
                    ),
                    **({pdf_name("/V"): generic.TextStringObject(value)} if with_value else {}),
                }
            )
        )
        _add_to_page(writer, 0, field)
        _add_to_form(writer, field)

    return update(document, change)


def first_field(writer: IncrementalPdfFileWriter) -> Any:
    """The form's first field (merged with its widget), for a change."""
    return writer.root["/AcroForm"]["/Fields"][0].get_object()


def with_field_font_swapped(document: bytes, value: str, rect: Rect) -> bytes:
    """The first field's appearance replaced by a new stream of the same bytes whose font
    draws "1" as "9" (/Differences): a reader shows another amount."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        nine = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Encoding"),
                pdf_name("/BaseEncoding"): pdf_name("/WinAnsiEncoding"),
                pdf_name("/Differences"): generic.ArrayObject(
                    [generic.NumberObject(49), pdf_name("/nine")]
                ),
            }
        )
        widget = first_field(writer)
        widget[pdf_name("/AP")] = generic.DictionaryObject(
            {pdf_name("/N"): appearance(writer, rect, shown_value(value), {"/Encoding": nine})}
        )
        writer.update_container(widget)

    return update(document, change)


def with_appearances_needed(document: bytes) -> bytes:
    """The first field's /DA set to white text and /NeedAppearances turned on: viewers draw
    the field afresh from /V and /DA, and the amount vanishes."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        widget = first_field(writer)
        widget[pdf_name("/DA")] = generic.TextStringObject("/Helv 12 Tf 1 1 1 rg")
        writer.update_container(widget)
        _set_form_entry(writer, "/NeedAppearances", generic.BooleanObject(True))

    return update(document, change)


def with_empty_signature_field(document: bytes, name: str, rect: Rect, *, parent: bool) -> bytes:
    """``document`` with an empty signature field on page 1 whose one widget is its /Kids
    entry; ``parent=False`` leaves out the widget's /Parent (viewers and pyHanko still find
    it through the field's /Kids)."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        field = generic.DictionaryObject(
            {pdf_name("/FT"): pdf_name("/Sig"), pdf_name("/T"): generic.TextStringObject(name)}
        )
        field_ref = writer.add_object(field)
        widget = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/F"): generic.NumberObject(4),
                pdf_name("/Rect"): _numbers(*rect),
                pdf_name("/P"): writer.root["/Pages"]["/Kids"][0],
            }
        )
        if parent:
            widget[pdf_name("/Parent")] = field_ref
        widget_ref = writer.add_object(widget)
        field[pdf_name("/Kids")] = generic.ArrayObject([widget_ref])
        _add_to_page(writer, 0, widget_ref)
        _add_to_form(writer, field_ref)

    return update(document, change)


def with_form_default_appearance(document: bytes, default_appearance: str) -> bytes:
    """The form's own /DA (the one fields without theirs inherit) set to ``default_appearance``,
    nothing else touched."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        _set_form_entry(writer, "/DA", generic.TextStringObject(default_appearance))

    return update(document, change)


def _set_form_entry(writer: IncrementalPdfFileWriter, key: str, value: Any) -> None:
    """One entry of the /AcroForm dictionary set, wherever that dictionary is written."""
    writer.root["/AcroForm"][pdf_name(key)] = value
    raw = writer.root.raw_get("/AcroForm")
    if isinstance(raw, generic.IndirectObject):
        writer.mark_update(raw)
    writer.update_root()
