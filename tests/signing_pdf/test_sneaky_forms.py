"""Forms and fields in the sneaky-signature check (red team 28, review 35).

A filled field the later revision never touched is not "changed" (pyHanko lists a field whose
appearance it would merely allow to change); a later stamp over a filled field's value hides
it as surely as one over the page's words; a later signature widget found only through its
field's /Kids (no /Parent) is still that field's stamp; Kyso refuses to sign an existing empty
field drawn over an earlier signer's text, and moves a stamp placed under an anchor down to
the first empty place instead of refusing it.
"""

from __future__ import annotations

import base64
from typing import Any

from agent.signing.pdf import PdfSignOptions, sign_pdf
from agent.signing.pdf.sign import Placement
from agent.signing.pdf.verify import verify_pdf
from tests.conftest import cert_thumbprint
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf
from tests.signing_pdf.form_updates import (
    with_appearances_needed,
    with_empty_signature_field,
    with_field_font_swapped,
    with_form_default_appearance,
    with_text_field,
)

AMOUNT_FIELD = (150.0, 690.0, 350.0, 715.0)
# make_pdf's own line is at (72, 760) in 14 pt.
OVER_THE_LINE = (60.0, 740.0, 400.0, 800.0)


async def _sign(
    token_service: Any,
    demo: dict[str, Any],
    name: str,
    data: bytes,
    box: Any = None,
    field: str | None = None,
) -> bytes:
    options = PdfSignOptions(placement=Placement(1, box) if box else None, field_name=field)
    async with token_signer(token_service, demo, name) as signer:
        return (await sign_pdf(data, signer, options)).document


async def test_a_countersignature_leaves_an_untouched_filled_field_alone(
    demo, token_service, trust
) -> None:
    form = with_text_field(make_pdf(1), "SoTien", "1.000.000 dong", AMOUNT_FIELD)
    first = await _sign(token_service, demo, "org", form)
    for box in (None, (330.0, 60.0, 560.0, 135.0)):
        both = await _sign(token_service, demo, "personal", first, box)
        reports = await verify_pdf(both, trust)
        assert [r.valid for r in reports] == [True, True], reports[0].problem
        assert reports[0].fields_changed_after == () and reports[0].covered_by == ()


async def test_a_later_stamp_over_a_filled_fields_value_hides_it(
    demo, token_service, trust
) -> None:
    form = with_text_field(make_pdf(1), "SoTien", "1.000.000 dong", AMOUNT_FIELD)
    first = await _sign(token_service, demo, "org", form)
    both = await _sign(token_service, demo, "personal", first, (145.0, 688.0, 355.0, 717.0))
    earlier, later = await verify_pdf(both, trust)
    assert not earlier.valid and earlier.covered_by == ("KysoSignature2",)
    assert later.valid


async def test_a_later_widget_without_a_parent_link_is_still_its_fields_stamp(
    demo, token_service, trust
) -> None:
    first = await _sign(token_service, demo, "org", make_pdf(1))
    for parent in (True, False):
        prepared = with_empty_signature_field(first, "ChuKy2", OVER_THE_LINE, parent=parent)
        both = await _sign(token_service, demo, "personal", prepared, field="ChuKy2")
        earlier = (await verify_pdf(both, trust))[0]
        assert not earlier.valid and earlier.covered_by == ("ChuKy2",), parent


async def test_the_agent_refuses_an_empty_field_drawn_over_an_earlier_signers_text(
    demo, token_service, agent
) -> None:
    first = await _sign(token_service, demo, "org", make_pdf(1))
    prepared = with_empty_signature_field(first, "ChuKy2", OVER_THE_LINE, parent=True)
    client = await agent.client()
    answer = await client.request(
        "sign.pdf",
        {
            "document": base64.b64encode(prepared).decode(),
            "field": "ChuKy2",
            "certificate": cert_thumbprint(demo, "personal"),
        },
    )
    assert answer["error"]["data"]["code"] == "PDF_PLACEMENT_INVALID", answer
    assert agent.prompter.prompts == []


async def test_an_anchored_stamp_moves_down_past_the_lines_under_the_anchor(
    demo, token_service, agent, trust
) -> None:
    """The second party of a contract signs under "ĐẠI DIỆN BÊN B": the line just under it
    ("(Ký, ghi rõ họ tên)") is text the first party signed, so the stamp goes below it, in
    the space left for signatures, and the first signature stays valid."""
    block = [
        (1, "ĐẠI DIỆN BÊN A", 60.0, 300.0),
        (1, "(Ký, ghi rõ họ tên)", 60.0, 284.0),
        (1, "ĐẠI DIỆN BÊN B", 330.0, 300.0),
        (1, "(Ký, ghi rõ họ tên)", 330.0, 284.0),
        (1, "Trần Văn Bình", 330.0, 150.0),
    ]
    first = await _sign(token_service, demo, "org", make_pdf(1, lines=block), (60, 190, 280, 260))
    client = await agent.client()
    answer = await client.request(
        "sign.pdf",
        {
            "document": base64.b64encode(first).decode(),
            "placement": {"anchor": "ĐẠI DIỆN BÊN B"},
            "certificate": cert_thumbprint(demo, "personal"),
        },
    )
    assert "result" in answer, answer
    both = base64.b64decode(answer["result"]["document"])
    earlier, later = await verify_pdf(both, trust)
    assert earlier.valid and earlier.covered_by == (), earlier.problem
    assert later.valid
    import io

    from pypdf import PdfReader

    from agent.signing.pdf.widgets import survey

    [stamp] = [
        w for w in survey(PdfReader(io.BytesIO(both))).widgets if w.field == later.field_name
    ]
    assert stamp.box.y1 > 150.0 + 10 and stamp.box.y2 < 284.0  # between the hint and the name


async def test_a_field_drawn_afresh_hides_what_it_showed_when_signed(
    demo, token_service, trust
) -> None:
    """What a filled field shows may change without its value: a new appearance of the same
    bytes whose font draws "1" as "9", or /NeedAppearances with another /DA (red team 29).
    Either way the field is drawn otherwise than when it was signed: NOT VALID, named."""
    form = with_text_field(make_pdf(1), "SoTien", "1.000.000 dong", AMOUNT_FIELD)
    first = await _sign(token_service, demo, "org", form)
    for later in (
        with_field_font_swapped(first, "1.000.000 dong", AMOUNT_FIELD),
        with_appearances_needed(first),
    ):
        earlier = (await verify_pdf(later, trust))[0]
        assert not earlier.valid and "SoTien" in earlier.covered_by, earlier.problem


async def test_a_widget_showing_text_without_a_value_is_content_too(
    demo, token_service, trust
) -> None:
    form = with_text_field(make_pdf(1), "SoTien", "1.000.000 dong", AMOUNT_FIELD, with_value=False)
    first = await _sign(token_service, demo, "org", form)
    both = await _sign(token_service, demo, "personal", first, (145.0, 688.0, 355.0, 717.0))
    earlier = (await verify_pdf(both, trust))[0]
    assert not earlier.valid and earlier.covered_by == ("KysoSignature2",)


async def test_a_field_without_an_appearance_is_drawn_with_the_forms_look(
    demo, token_service, trust
) -> None:
    """A filled field with no appearance of its own is drawn by viewers from its value and
    the form's /DA and /DR: a later update to those (white text; pyHanko allows it) changes
    what it shows (red team 30)."""
    form = with_text_field(
        make_pdf(1),
        "SoTien",
        "1.000.000 dong",
        AMOUNT_FIELD,
        with_appearance=False,
        field_appearance=None,
    )
    first = await _sign(token_service, demo, "org", form)
    later = with_form_default_appearance(first, "/Helv 12 Tf 1 1 1 rg")
    earlier = (await verify_pdf(later, trust))[0]
    assert not earlier.valid and "SoTien" in earlier.covered_by, earlier.problem


async def test_widgets_that_cannot_all_be_read_leave_the_earlier_signature_unproven(
    demo, token_service, trust
) -> None:
    """A signed page of 1,001 annotations: the survey stops at 1,000, so a stamp placed
    after them could not be looked at (red team 29). The check fails closed and says so."""
    from agent.signing.pdf.overlay import UNCHECKED
    from agent.signing.pdf.widgets import MAX_ANNOTATIONS_PER_PAGE
    from tests.signing_pdf.test_stamp_geometry import _page_pdf

    crowded = _page_pdf(
        b"BT /F1 12 Tf 72 700 Td (So tien: 1.000.000) Tj ET", links=MAX_ANNOTATIONS_PER_PAGE + 1
    )
    first = await _sign(token_service, demo, "org", crowded)
    both = await _sign(token_service, demo, "personal", first, (330.0, 60.0, 560.0, 135.0))
    earlier, later = await verify_pdf(both, trust)
    assert not earlier.valid and earlier.covered_by == (UNCHECKED,)
    assert earlier.problem is not None and "could not all be checked" in earlier.problem
    assert later.valid
