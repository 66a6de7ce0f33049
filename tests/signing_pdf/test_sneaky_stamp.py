"""The "sneaky signature" attack (Mainka et al.): a later signer's stamp drawn over what an
earlier signer signed (red team 26, F1).

Anyone with a certificate from a trusted CA could sign the unit's signed PDF again in a new
field sized to the page, whose appearance is a white page with another amount on it. pyHanko
files a new signature field under form filling, and verify-pdf called the unit's signature
VALID while every reader showed only the forged page. A later stamp drawn over text the
earlier signature covers now makes that signature not valid, with the stamp's field named; a
stamp in an empty part of the page (how people countersign) does not.
"""

from __future__ import annotations

from typing import Any

from agent.signing.pdf import PdfSignOptions, sign_pdf
from agent.signing.pdf.glyphs import Box, text_boxes
from agent.signing.pdf.overlay import UNCHECKED, covering_stamps, draws_over
from agent.signing.pdf.sign import Placement
from agent.signing.pdf.verify import verify_pdf
from tests.conftest import cert_thumbprint
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf

# make_pdf writes its line at (72, 760) in 14 pt Helvetica on each page.
OVER_THE_TEXT = (60.0, 740.0, 400.0, 800.0)
BLANK_CORNER = (330.0, 60.0, 560.0, 135.0)


async def _sign(
    token_service: Any, demo: dict[str, Any], name: str, data: bytes, box: Any = None
) -> bytes:
    options = PdfSignOptions(placement=Placement(1, box) if box else None)
    async with token_signer(token_service, demo, name) as signer:
        return (await sign_pdf(data, signer, options)).document


async def test_a_later_stamp_over_the_signed_text_makes_the_earlier_signature_not_valid(
    demo, token_service, trust
) -> None:
    first = await _sign(token_service, demo, "org", make_pdf(1, text="So tien 1.000.000 dong"))
    both = await _sign(token_service, demo, "personal", first, OVER_THE_TEXT)
    earlier, later = await verify_pdf(both, trust)
    assert earlier.intact and earlier.trusted  # the bytes the unit signed are untouched...
    assert earlier.modification_level == "form_filling"  # ...and pyHanko sees form filling
    assert not earlier.valid  # but the page shown is drawn over
    assert earlier.covered_by == (later.field_name,)
    assert later.field_name in (earlier.problem or "") and earlier.problem_vi
    assert earlier.to_json()["covered_by_later_stamps"] == [later.field_name]
    assert later.valid  # the later signer's own signature is sound: its stamp is its own


async def test_a_later_stamp_in_an_empty_part_of_the_page_keeps_the_earlier_one_valid(
    demo, token_service, trust
) -> None:
    first = await _sign(token_service, demo, "org", make_pdf(1))
    both = await _sign(token_service, demo, "personal", first, BLANK_CORNER)
    reports = await verify_pdf(both, trust)
    assert [r.valid for r in reports] == [True, True]
    assert reports[0].covered_by == ()


def test_the_text_and_the_stamps_are_found_where_a_reader_draws_them() -> None:
    from io import BytesIO

    from pypdf import PdfReader

    page = PdfReader(BytesIO(make_pdf(1, text="Nguoi ky"))).pages[0]
    glyphs = text_boxes(page)
    assert draws_over(Box(72, 760, 80, 770), glyphs)
    assert not draws_over(Box(*BLANK_CORNER), glyphs)
    assert Box.of([595, 842, 0, 0]) == Box(0, 0, 595, 842) and Box.of([1, 1, 1, 9]) is None
    assert Box.of(["x", 0, 1, 1]) is None
    # Widgets that cannot be read are not taken as "nothing drawn over": the check fails closed.
    assert covering_stamps(b"not a pdf", 5) == (UNCHECKED,)


async def test_the_agent_refuses_a_stamp_that_would_cover_an_earlier_signers_text(
    demo, token_service, agent
) -> None:
    """Kyso never makes the sneaky signature itself: on a file already signed, a placement over
    text is PDF_PLACEMENT_INVALID before any prompt (the earlier signature would read NOT VALID);
    an empty place signs."""
    import base64

    first = await _sign(token_service, demo, "org", make_pdf(1))
    client = await agent.client()
    document = base64.b64encode(first).decode()
    over = await client.request(
        "sign.pdf", {"document": document, "placement": {"page": 1, "box": list(OVER_THE_TEXT)}}
    )
    assert over["error"]["data"]["code"] == "PDF_PLACEMENT_INVALID"
    assert "earlier signer" in over["error"]["data"]["details"]["detail"]
    assert agent.prompter.prompts == []
    # On a file nobody signed yet the box would cover the document's own words, which would no
    # longer read in the signed copy (red team 38): refused too; an empty place signs.
    fresh = {
        "document": base64.b64encode(make_pdf(1)).decode(),
        "certificate": cert_thumbprint(demo, "org"),
    }
    own = await client.request(
        "sign.pdf", {**fresh, "placement": {"page": 1, "box": list(OVER_THE_TEXT)}}
    )
    assert own["error"]["data"]["code"] == "PDF_PLACEMENT_INVALID"
    assert "own text" in own["error"]["data"]["details"]["detail"]
    assert agent.prompter.prompts == []
    clear = await client.request(
        "sign.pdf", {**fresh, "placement": {"page": 1, "box": list(BLANK_CORNER)}}
    )
    assert "result" in clear, clear


def test_sign_pdf_refuses_a_box_over_an_earlier_signers_text_before_the_pin(
    demo: dict[str, Any], tmp_path: Any, capsys: Any
) -> None:
    import json

    from agent.cli.main import main
    from tests.signing_xml.helpers import PIN

    (tmp_path / "pin").write_text(PIN + "\n")
    original = tmp_path / "hopdong.pdf"
    original.write_bytes(make_pdf(1))
    cert = ["--cert", cert_thumbprint(demo, "org")]
    assert main(["sign-pdf", str(original), *cert, "--pin-file", str(tmp_path / "pin")]) == 0
    capsys.readouterr()
    signed = tmp_path / "hopdong_signed.pdf"
    before = signed.read_bytes()
    box = ",".join(str(v) for v in OVER_THE_TEXT)
    # No PIN file: had the check come after the PIN, the prompt would have failed otherwise.
    status = main(["sign-pdf", str(signed), *cert, "--box", box, "--page", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status != 0 and report["error"]["code"] == "PDF_PLACEMENT_INVALID", report
    assert "earlier signer" in report["error"]["details"]["detail"]
    assert signed.read_bytes() == before
    assert not (tmp_path / "hopdong_signed_signed.pdf").exists()
