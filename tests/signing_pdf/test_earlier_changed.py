"""The consent's "already signed by X" tells the person that X approved what they see; when the
file was changed after X signed (a page's content replaced in a later revision, or its bytes
altered), X did not sign what is shown, and the consent says so in a warning line."""

from __future__ import annotations

import io
from typing import Any

from agent.server.consent import pdf_item
from agent.signing.pdf import PdfSignOptions, inspect_pdf, sign_pdf
from tests.signing_cms.conftest import token_signer

from .conftest import make_pdf

SEEN = b"BT /F1 14 Tf 72 760 Td (Gia tri hop dong: 990.000.000 VND) Tj ET"


async def _signed(token_service: Any, demo: dict[str, Any], document: bytes, who: str) -> bytes:
    async with token_signer(token_service, demo, who) as signer:
        return (await sign_pdf(document, signer, PdfSignOptions())).document


def _page_replaced(document: bytes) -> bytes:
    """A later revision whose page 1 shows another amount (what a sender can append)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(document), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.pdf_name("/Contents")] = writer.add_object(generic.StreamObject(stream_data=SEEN))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _warnings(document: bytes) -> list[str]:
    facts = inspect_pdf(document)
    item = pdf_item(facts, None, None)
    return [value for label, value in item.lines if label == "Cảnh báo / warning"]


async def test_a_countersigned_file_gets_no_warning(token_service: Any, demo: dict[str, Any]):
    first = await _signed(token_service, demo, make_pdf(1), "org")
    both = await _signed(token_service, demo, first, "personal")
    facts = inspect_pdf(both)
    assert len(facts.signatures) == 2
    assert not any(s.changed_after for s in facts.signatures)
    assert _warnings(both) == []


async def test_a_page_changed_after_the_signature_is_said(
    token_service: Any, demo: dict[str, Any]
) -> None:
    signed = await _signed(token_service, demo, make_pdf(1), "org")
    changed = _page_replaced(signed)
    (earlier,) = inspect_pdf(changed).signatures
    assert earlier.changed_after
    (warning,) = _warnings(changed)
    assert earlier.signer in warning and "did not sign what you see" in warning
    # The desktop "Ký tệp" consent says it too.
    from agent.ui.filesign import pdf_warnings

    assert ("Cảnh báo / warning", warning) in pdf_warnings(io.BytesIO(changed))


async def test_bytes_altered_inside_the_signed_range_are_said(
    token_service: Any, demo: dict[str, Any]
) -> None:
    document = make_pdf(1, text="So tien 1.000.000")
    signed = await _signed(token_service, demo, document, "org")
    altered = signed.replace(b"So tien 1.000.000", b"So tien 9.000.000", 1)
    assert altered != signed
    (earlier,) = inspect_pdf(altered).signatures
    assert earlier.changed_after


async def test_verify_pdf_says_changed_after_not_a_certification(
    token_service: Any, demo: dict[str, Any]
) -> None:
    """An ordinary (approval) signature followed by a content change: the problem is the
    change, not "a certification that does not permit it" (there is no certification)."""
    from agent.signing.pdf.verify import verify_pdf
    from agent.signing.trust import TrustStore

    changed = _page_replaced(await _signed(token_service, demo, make_pdf(1), "org"))
    trust = TrustStore.from_files(
        [demo["ca"]["chain"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]]
    )
    (report,) = await verify_pdf(changed, trust)
    assert not report.valid
    assert report.problem is not None and "changed after this signature" in report.problem
    assert "certification" not in report.problem
