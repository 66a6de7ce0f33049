"""sign.pdf through the running agent: consent shows the PDF, the signature is PAdES."""

from __future__ import annotations

import base64
import io
from typing import Any

from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf, pdfsig


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _record_consents(prompter: Any) -> list[Any]:
    """The ConsentRequests the running agent hands its prompter (items with their preview)."""
    requests: list[Any] = []
    answer = prompter.consent

    async def consent(request: Any) -> bool:
        requests.append(request)
        return await answer(request)

    prompter.consent = consent  # this instance only: the harness makes one per test
    return requests


async def test_sign_pdf_shows_the_document_and_returns_pades(demo, agent, tmp_path) -> None:
    requests = _record_consents(agent.prompter)
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    params = {
        "document": _b64(make_pdf(3, title="Hợp đồng số 12/2026")),
        "label": "hop-dong-12.pdf",
        "placement": {"page": 3, "box": [330, 60, 560, 135]},
        "certificate": org,
    }
    result = await client.call("sign.pdf", params)
    assert result["level"] == "PAdES-B-B" and result["visible"]
    out = tmp_path / "signed.pdf"
    out.write_bytes(base64.b64decode(result["document"]))
    assert "Signature is Valid" in pdfsig(out)
    consent = next(p for p in agent.prompter.prompts if p.kind == "consent")
    shown = repr(consent.shown)
    for expected in ("hop-dong-12.pdf", "Hợp đồng số 12/2026", "3", "trang 3", "dưới bên phải"):
        assert expected in shown, expected
    # The title is said to be the file's own words, never shown as a fact.
    fields = [field for _section, section in consent.shown for field in section]
    assert ("Tệp tự ghi tiêu đề · the file's own title", "Hợp đồng số 12/2026") in fields
    # The consent carries a picture of page 3 with the stamp's box drawn bottom right.
    from PIL import Image

    from agent.signing.pdf.preview import PREVIEW_SIDE

    (item,) = requests[0].items
    assert item.preview_png is not None
    with Image.open(io.BytesIO(item.preview_png)) as picture:
        assert picture.format == "PNG" and max(picture.size) == PREVIEW_SIDE
        page = picture.convert("RGB")
    width, height = page.size
    inside = page.getpixel((int(width * 445 / 595), int(height * (842 - 97) / 842)))
    outside = page.getpixel((int(width * 150 / 595), int(height * (842 - 97) / 842)))
    assert inside[0] - inside[1] > 30 and outside[0] - outside[1] < 10, (inside, outside)
    # A second signer sees who signed before.
    again = await client.call("sign.pdf", {"document": result["document"], "certificate": org})
    second = [p for p in agent.prompter.prompts if p.kind == "consent"][-1]
    assert "Kyso" in repr(second.shown) and "already signed by" in repr(second.shown)
    assert "not checked by Kyso" in repr(second.shown)  # a name in a certificate, not a fact
    assert again["field"] != result["field"]
    # An invisible signature has nothing to show.
    assert requests[-1].items[0].preview_png is None


async def test_a_configured_timestamp_authority_gives_b_t(demo, harness, tsa) -> None:
    await harness.start(timestamp_url=tsa.url)
    client = await harness.client()
    result = await client.call(
        "sign.pdf", {"document": _b64(make_pdf()), "certificate": cert_thumbprint(demo, "org")}
    )
    assert result["level"] == "PAdES-B-T"
    no_ts = await client.call(
        "sign.pdf",
        {
            "document": _b64(make_pdf()),
            "timestamp": False,
            "certificate": cert_thumbprint(demo, "org"),
        },
    )
    assert no_ts["level"] == "PAdES-B-B"


async def test_bad_pdfs_are_refused_before_any_prompt(agent) -> None:
    client = await agent.client()
    reply = await client.request("sign.pdf", {"document": _b64(b"%PDF-1.7\nbroken\n%%EOF")})
    assert reply["error"]["data"]["code"] == "PDF_MALFORMED"
    outside = await client.request(
        "sign.pdf",
        {"document": _b64(make_pdf(1)), "placement": {"page": 1, "box": [0, 0, 900, 50]}},
    )
    assert outside["error"]["data"]["code"] == "PDF_PLACEMENT_INVALID"
    assert agent.prompter.prompts == []


async def test_a_batch_signs_pdfs_and_xml_under_one_consent(demo, agent) -> None:
    from tests.signing_xml.helpers import HOSO

    client = await agent.client()
    items = [
        {"kind": "pdf", "document": _b64(make_pdf(1)), "label": "phu-luc-1.pdf"},
        {"kind": "xml", "document": _b64(HOSO)},
        {"kind": "pdf", "document": _b64(make_pdf(2)), "label": "phu-luc-2.pdf"},
    ]
    result = await client.call(
        "sign.batch", {"items": items, "certificate": cert_thumbprint(demo, "org")}
    )
    assert result["signed"] == 3
    assert [r["result"].get("level") for r in result["results"]] == [
        "PAdES-B-B",
        None,
        "PAdES-B-B",
    ]
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]


async def test_what_the_page_writes_into_the_signature_is_shown_first(demo, agent) -> None:
    """Reason, location and a certification (which locks the file) end up in the signed PDF,
    where every reader sees them: the consent shows them, in single calls and batches alike."""
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    extras = {"reason": "Dong y thanh ly hop dong", "location": "Ha Noi", "certify": True}
    single = await client.call(
        "sign.pdf", {"document": _b64(make_pdf(1)), "certificate": org, **extras}
    )
    items = [{"kind": "pdf", "document": _b64(make_pdf(1)), **extras}]
    await client.call("sign.batch", {"items": items, "certificate": org})
    signed = base64.b64decode(single["document"])
    assert b"Dong y thanh ly hop dong" in signed and b"Ha Noi" in signed and b"/DocMDP" in signed
    consents = [p for p in agent.prompter.prompts if p.kind == "consent"]
    assert len(consents) == 2
    for consent in consents:
        shown = repr(consent.shown)
        assert "Dong y thanh ly hop dong" in shown and "Ha Noi" in shown
        assert "khoá tài liệu" in shown and "locks the document" in shown
    # Without them, nothing about a reason or a certification is claimed.
    await client.call("sign.pdf", {"document": _b64(make_pdf(1)), "certificate": org})
    plain = repr([p for p in agent.prompter.prompts if p.kind == "consent"][-1].shown)
    assert "reason" not in plain and "certification" not in plain
