"""Shadow attacks (Mainka et al., 2021) against the verifier: an incremental update after a
valid signature that changes what the page shows through the form — a signature field added
with a page-covering appearance, or a text field's value typed over. pyHanko files both under
"form_filling", which Kyso used to count as valid (red-team, issue 14 stop). Only a later
signature's own field may change after a signature; anything else is named and not valid.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from agent.errors import KysoError
from agent.signing.pdf import PdfSignOptions, sign_pdf
from agent.signing.pdf.verify import verify_pdf
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf

FAKE = (
    b"1 1 1 rg 0 0 595 842 re f 0 0 0 rg BT /Helv 14 Tf 72 760 Td (Ben A chuyen het tai san) Tj ET"
)


def _numbers(*values: float) -> generic.ArrayObject:
    return generic.ArrayObject([generic.NumberObject(v) for v in values])


def cover_page_with_a_new_field(signed: bytes, name: str = "ChuKy2") -> bytes:
    """An update adding an unsigned signature field whose widget paints over page 1."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    font = writer.add_object(
        generic.DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    appearance = writer.add_object(
        generic.StreamObject(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): _numbers(0, 0, 595, 842),
                NameObject("/Resources"): generic.DictionaryObject(
                    {NameObject("/Font"): generic.DictionaryObject({NameObject("/Helv"): font})}
                ),
            },
            stream_data=FAKE,
        )
    )
    widget = writer.add_object(
        generic.DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Widget"),
                NameObject("/FT"): NameObject("/Sig"),
                NameObject("/T"): generic.TextStringObject(name),
                NameObject("/F"): generic.NumberObject(4),
                NameObject("/Rect"): _numbers(0, 0, 595, 842),
                NameObject("/P"): page_ref,
                NameObject("/AP"): generic.DictionaryObject({NameObject("/N"): appearance}),
            }
        )
    )
    annots = page.get("/Annots")
    if annots is None:
        page[NameObject("/Annots")] = generic.ArrayObject([widget])
        writer.update_container(page)
    else:
        annots.get_object().append(widget)
        raw = page.raw_get("/Annots")
        if isinstance(raw, generic.IndirectObject):
            writer.mark_update(raw)
        else:
            writer.update_container(page)
    form = writer.root["/AcroForm"]
    form["/Fields"].append(widget)
    for raw in (writer.root.raw_get("/AcroForm"), form.raw_get("/Fields")):
        if isinstance(raw, generic.IndirectObject):
            writer.mark_update(raw)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def _signed(token_service: Any, demo: dict[str, Any], name: str, data: bytes) -> bytes:
    async with token_signer(token_service, demo, name) as signer:
        return (await sign_pdf(data, signer, PdfSignOptions())).document


async def test_a_page_covering_field_added_after_a_signature_is_not_valid(
    demo, token_service, trust
) -> None:
    signed = await _signed(token_service, demo, "org", make_pdf())
    [before] = await verify_pdf(signed, trust)
    assert before.valid
    [after] = await verify_pdf(cover_page_with_a_new_field(signed), trust)
    assert after.intact and after.trusted  # the signed bytes are untouched...
    assert not after.valid  # ...but what the page shows is not what was signed
    assert after.fields_changed_after == ("ChuKy2",)
    assert "ChuKy2" in (after.problem or "")
    assert after.to_json()["valid"] is False


async def test_a_later_signature_in_its_own_field_keeps_the_earlier_one_valid(
    demo, token_service, trust
) -> None:
    first = await _signed(token_service, demo, "org", make_pdf())
    both = await _signed(token_service, demo, "personal", first)
    reports = await verify_pdf(both, trust)
    assert [r.valid for r in reports] == [True, True]
    assert reports[0].fields_changed_after == ()
    # A field added, then signed by the next signer: allowed. Added and left empty: named.
    shadowed = await _signed(token_service, demo, "personal", cover_page_with_a_new_field(first))
    earlier = (await verify_pdf(shadowed, trust))[0]
    assert not earlier.valid and earlier.fields_changed_after == ("ChuKy2",)


def _append_update(document: bytes, number: int, body: bytes, info: bool) -> bytes:
    """A hand-written incremental update adding object ``number`` (as /Info when ``info``)."""
    out = bytearray(document if document.endswith(b"\n") else document + b"\n")
    offset = len(out)
    out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    root = re.search(rb"/Root\s+(\d+ \d+ R)", document)
    assert root is not None
    prev = int(re.findall(rb"startxref\s+(\d+)", document)[-1])
    extra = b"/Info %d 0 R " % number if info else b""
    out += b"xref\n%d 1\n%010d 00000 n \n" % (number, offset)
    out += b"trailer\n<< /Size %d /Root %s /Prev %d %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        number + 1,
        root.group(1),
        prev,
        extra,
        xref,
    )
    return bytes(out)


async def test_a_damaged_update_after_a_signature_is_pdf_malformed_not_a_traceback(
    demo, token_service, trust
) -> None:
    signed = await _signed(token_service, demo, "org", make_pdf())
    body = b"154 0"
    hostile = _append_update(
        signed,
        154,
        b"<< /Type /ObjStm /N 1 /First 6 /Length %d >>\nstream\n%s\n154 0 R\nendstream"
        % (len(body) + 6, body),
        info=True,
    )
    with pytest.raises(KysoError) as err:
        await verify_pdf(hostile, trust)
    assert err.value.code == "PDF_MALFORMED"
