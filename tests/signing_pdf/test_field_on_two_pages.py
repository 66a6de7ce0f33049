"""One signature widget listed in the /Annots of two pages is drawn on both: the consent named
page 1 and the stamp approved page 2 too (an appendix, a clause under a shifted box). Such a
field is refused before any prompt (red team 38)."""

from __future__ import annotations

import io

import pytest

from agent.errors import KysoError
from agent.signing.pdf.inspect import inspect_pdf
from agent.signing.pdf.sign import PdfSignOptions, check_existing_field
from tests.signing_pdf.conftest import make_pdf


def field_on_pages(listed_on_page_two: bool, name: str = "KyGiamDoc") -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    writer = IncrementalPdfFileWriter(io.BytesIO(make_pdf(2, text="Hop dong")))
    append_signature_field(writer, SigFieldSpec(name, on_page=0, box=(380, 60, 560, 130)))
    first = io.BytesIO()
    writer.write(first)
    if not listed_on_page_two:
        return first.getvalue()
    writer = IncrementalPdfFileWriter(io.BytesIO(first.getvalue()))
    kids = writer.root["/Pages"]["/Kids"]
    page1, page2 = kids[0].get_object(), kids[1].get_object()
    annots = page1.raw_get("/Annots")
    annots = annots.get_object() if hasattr(annots, "get_object") else annots
    page2[pdf_name("/Annots")] = generic.ArrayObject([list.__getitem__(annots, 0)])
    writer.update_container(page2)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_field_drawn_on_two_pages_is_refused() -> None:
    facts = inspect_pdf(field_on_pages(True))
    field = facts.empty_field("KyGiamDoc")
    assert field is not None and field.page == 1 and field.other_pages == (2,)
    with pytest.raises(KysoError) as refused:
        check_existing_field(facts, PdfSignOptions(field_name="KyGiamDoc"), "KyGiamDoc")
    assert refused.value.code == "PDF_PLACEMENT_INVALID"
    assert "1, 2" in refused.value.details["detail"]


def test_a_field_on_one_page_is_signed_where_it_is() -> None:
    facts = inspect_pdf(field_on_pages(False))
    field = facts.empty_field("KyGiamDoc")
    assert field is not None and field.page == 1 and field.other_pages == ()
    check_existing_field(facts, PdfSignOptions(field_name="KyGiamDoc"), "KyGiamDoc")
