"""PDF signing, the rest: text anchors, a seal per certificate, B-LT from the CLI and the agent.

Judged by independent parts where one exists: poppler's pdfsig for the signature, poppler's
pdftoppm for what a reader draws, the demo's real OCSP/CRL responder for revocation data.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.cli.main import main
from agent.config.settings import FIELDS
from agent.errors import KysoError
from agent.signing.pdf import PadesLevel, PdfSignOptions, Placement, sign_pdf
from agent.signing.pdf.anchor import TextHit, find_text, place_near
from agent.signing.pdf.sign import STAMP_SIZE, seal_for
from tests.conftest import cert_thumbprint
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf, pdfsig, render_page, seal_png, with_page_frame

DIRECTOR = (2, "GIÁM ĐỐC", 340.0, 300.0)  # page, text, x, y: a contract's signature block


async def _sign(token_service, demo, name: str, data: bytes, options: PdfSignOptions) -> Any:
    async with token_signer(token_service, demo, name) as signer:
        return await sign_pdf(data, signer, options)


def _widget_rect(document: bytes, field: str) -> tuple[int, tuple[float, ...]]:
    """The page (1-based) and /Rect of the signature field's widget, as the file says."""
    import pypdf

    for number, page in enumerate(pypdf.PdfReader(io.BytesIO(document)).pages, 1):
        for ref in page.get("/Annots") or []:
            widget = ref.get_object()
            if widget.get("/T") == field:
                return number, tuple(float(v) for v in widget["/Rect"])
    raise AssertionError(f"no widget for {field}")


# --- text anchors ------------------------------------------------------------------------------


def test_an_anchor_in_vietnamese_truetype_text_is_found_where_it_is_drawn() -> None:
    pdf = make_pdf(2, lines=[DIRECTOR, (2, "Người ký", 60.0, 500.0)])
    hit = find_text(pdf, "giám   đốc")  # any case, any spacing
    assert hit is not None and hit.page == 2
    assert (hit.x, hit.y) == (340.0, 300.0)
    assert find_text(pdf, "người ký").y == 500.0
    assert find_text(pdf, "Kế toán trưởng") is None
    assert find_text(pdf, "GIÁM ĐỐC", page=1) is None  # only the page asked for


def test_the_stamp_goes_below_the_anchor_or_beside_it_near_the_bottom() -> None:
    w, h = STAMP_SIZE
    below = place_near(TextHit(2, 340.0, 300.0, 12.0, 48.0, (595.0, 842.0)), STAMP_SIZE)
    assert below[0] == 340.0 and below[3] < 300.0 - 3 and below[3] - below[1] == h
    # Near the right edge: shifted left to stay on the page.
    right = place_near(TextHit(1, 500.0, 300.0, 12.0, 48.0, (595.0, 842.0)), STAMP_SIZE)
    assert right[2] <= 595.0 and right[2] - right[0] == w
    # No room below: beside, on the right of the text.
    beside = place_near(TextHit(1, 60.0, 30.0, 12.0, 48.0, (595.0, 842.0)), STAMP_SIZE)
    assert beside[0] >= 60.0 + 48.0 and beside[1] >= 0
    with pytest.raises(KysoError) as err:
        place_near(TextHit(1, 400.0, 30.0, 12.0, 150.0, (595.0, 842.0)), STAMP_SIZE)
    assert err.value.code == "PDF_PLACEMENT_INVALID"


async def test_an_anchor_on_a_page_not_starting_at_the_origin_stays_on_it(
    demo, token_service, tmp_path
) -> None:
    """The MediaBox [0 100 595 942]: "Giám đốc" 20 pt above the page's bottom edge has no room
    below, so the stamp goes beside it, inside the page, where poppler draws it."""
    from agent.signing.pdf.sign import resolve_anchor

    media = (0.0, 100.0, 595.0, 942.0)
    document = with_page_frame(make_pdf(1, lines=[(1, "Giám đốc", 60.0, 120.0)]), media=media)
    hit = find_text(document, "giám đốc")
    assert hit is not None and hit.page_origin == (0.0, 100.0)
    options = resolve_anchor(document, PdfSignOptions(anchor="Giám đốc"))
    assert options.placement is not None
    x1, y1, x2, y2 = options.placement.box
    assert 0 <= x1 < x2 <= 595 and 100 <= y1 < y2 <= 942, options.placement.box
    assert x1 > 60 and y1 <= 120 <= y2  # beside the anchor, not below the page
    result = await _sign(token_service, demo, "org", document, options)
    out = tmp_path / "offset.pdf"
    out.write_bytes(result.document)
    assert "Signature is Valid" in pdfsig(out)
    picture = render_page(out, 1, tmp_path)  # 72 dpi: pixel row 0 is y = 942
    red = [
        (x, y)
        for x in range(0, picture.size[0], 2)
        for y in range(0, picture.size[1], 2)
        if picture.getpixel((x, y))[0] > 120 and max(picture.getpixel((x, y))[1:]) < 90
    ]
    assert red and min(x for x, _ in red) >= round(x1) - 2
    assert max(y for _, y in red) <= round(942 - y1) + 2


async def test_signing_at_an_anchor_stamps_just_below_it(demo, token_service, tmp_path) -> None:
    pdf = make_pdf(2, lines=[DIRECTOR])
    result = await _sign(token_service, demo, "org", pdf, PdfSignOptions(anchor="Giám đốc"))
    assert result.visible
    page, (x1, _, _, y2) = _widget_rect(result.document, result.field_name)
    assert page == 2
    assert x1 == 340 and 250 < y2 < 300  # under the line, left-aligned with it
    out = tmp_path / "anchored.pdf"
    out.write_bytes(result.document)
    assert "Signature is Valid" in pdfsig(out)
    with pytest.raises(KysoError) as err:
        await _sign(token_service, demo, "org", pdf, PdfSignOptions(anchor="Kế toán trưởng"))
    assert err.value.code == "PDF_ANCHOR_NOT_FOUND"


async def test_the_agent_places_by_anchor_and_refuses_a_missing_one_before_asking(
    demo, agent
) -> None:
    client = await agent.client()
    document = base64.b64encode(make_pdf(2, lines=[DIRECTOR])).decode()
    missing = await client.request(
        "sign.pdf", {"document": document, "placement": {"anchor": "Kế toán trưởng"}}
    )
    assert missing["error"]["data"]["code"] == "PDF_ANCHOR_NOT_FOUND"
    assert agent.prompter.prompts == []
    both = await client.request(
        "sign.pdf",
        {"document": document, "placement": {"anchor": "x", "page": 1, "box": [0, 0, 9, 9]}},
    )
    assert "error" in both and agent.prompter.prompts == []
    # The seal is the agent's setting: a page cannot name a file for it.
    seal = await client.request("sign.pdf", {"document": document, "seal": "/etc/passwd"})
    assert "error" in seal and agent.prompter.prompts == []
    result = await client.call(
        "sign.pdf",
        {
            "document": document,
            "placement": {"anchor": "Giám đốc"},
            "certificate": cert_thumbprint(demo, "org"),
        },
    )
    assert result["visible"]
    consent = next(p for p in agent.prompter.prompts if p.kind == "consent")
    assert "trang 2" in repr(consent.shown)  # the user sees where the stamp goes
    page, _ = _widget_rect(base64.b64decode(result["document"]), result["field"])
    assert page == 2


def test_the_cli_signs_at_an_anchor(demo, tmp_path, capsys) -> None:
    doc = tmp_path / "hopdong.pdf"
    doc.write_bytes(make_pdf(2, lines=[DIRECTOR]))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    base = ["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin), "--json"]
    code, report = _run(capsys, *base, "--anchor", "Giám đốc")
    assert code == 0, report
    page, _ = _widget_rect(Path(report["output"]).read_bytes(), report["field"])
    assert page == 2 and report["visible"]
    code, text = _run(capsys, *base, "--anchor", "Kế toán trưởng", "--force")
    assert code != 0 and "PDF_ANCHOR_NOT_FOUND" in str(text)


# --- a seal per certificate -------------------------------------------------------------------


def test_the_seal_table_accepts_thumbprints_in_any_spelling_and_refuses_others() -> None:
    parse = FIELDS["pdf_seals"].parse
    thumb = "AB:" * 31 + "AB"
    assert parse({thumb: "/srv/seal.png"}) == (("ab" * 32, "/srv/seal.png"),)
    assert parse(json.dumps({"ab" * 32: "C:\\seal.png"})) == (("ab" * 32, "C:\\seal.png"),)
    assert parse("") == ()
    for bad in ({"abc": "/x.png"}, {"ab" * 32: ""}, ["/x.png"], "{not json"):
        with pytest.raises(ValueError):
            parse(bad)
    options = PdfSignOptions(seals=(("ab" * 32, "/srv/seal.png"),))
    assert seal_for(options, "ab" * 32) == Path("/srv/seal.png")
    assert seal_for(options, "cd" * 32) is None
    chosen = PdfSignOptions(seal_png=Path("/other.png"), seals=options.seals)
    assert seal_for(chosen, "ab" * 32) == Path("/other.png")  # --seal wins


async def test_a_configured_seal_is_drawn_with_its_transparency(
    demo, token_service, tmp_path
) -> None:
    seal = seal_png(tmp_path / "con-dau.png")
    org = cert_thumbprint(demo, "org")
    box = (300.0, 100.0, 520.0, 170.0)
    options = PdfSignOptions(placement=Placement(1, box), seals=((org.upper(), str(seal)),))
    result = await _sign(token_service, demo, "org", make_pdf(1), options)
    out = tmp_path / "sealed.pdf"
    out.write_bytes(result.document)
    assert "Signature is Valid" in pdfsig(out)
    image = render_page(out, 1, tmp_path)
    height = image.height

    def pixel(x: float, y: float) -> tuple[int, int, int]:
        return image.getpixel((int(x), int(height - y)))  # PDF y grows upwards

    # The seal is scaled into the box's height and centred: its middle is red ...
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    red = [pixel(cx + dx, cy + dy) for dx in (-3, 0, 3) for dy in (-3, 0, 3)]
    assert any(r > 150 and g < 120 and b < 120 for r, g, b in red), red
    # ... and its transparent corners (inside the image's square, outside the disc, clear of
    # the text) show the page, not a black or grey square.
    for corner in (pixel(cx - 27, cy + 27), pixel(cx + 27, cy + 27)):
        assert min(corner) > 200, corner
    # Another certificate has no seal configured: nothing red is drawn.
    plain = await _sign(token_service, demo, "personal", make_pdf(1), options)
    out2 = tmp_path / "plain.pdf"
    out2.write_bytes(plain.document)
    image = render_page(out2, 1, tmp_path)
    r, g, b = image.getpixel((int(cx), int(height - cy)))
    assert not (r > 150 and g < 120 and b < 120)


async def test_the_agent_uses_the_seal_configured_for_the_certificate(
    demo, harness, tmp_path
) -> None:
    seal = seal_png(tmp_path / "con-dau.png")
    org = cert_thumbprint(demo, "org")
    await harness.start(pdf_seals={org: str(seal)})
    client = await harness.client()
    result = await client.call(
        "sign.pdf",
        {
            "document": base64.b64encode(make_pdf(1)).decode(),
            "placement": {"page": 1, "box": [300, 100, 520, 170]},
            "certificate": org,
        },
    )
    out = tmp_path / "agent-sealed.pdf"
    out.write_bytes(base64.b64decode(result["document"]))
    image = render_page(out, 1, tmp_path)
    r, g, b = image.getpixel((410, image.height - 135))
    assert r > 150 and g < 120 and b < 120, (r, g, b)


# --- B-LT --------------------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out)
    except ValueError:
        return code, captured.out + captured.err


def test_the_cli_reaches_b_lt_and_falls_back_to_b_t_with_a_reason(
    demo, tsa, tmp_path, capsys
) -> None:
    from agent.demo.responder import DemoResponder

    doc = tmp_path / "hopdong.pdf"
    doc.write_bytes(make_pdf(1))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    base = ["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin), "--tsa", tsa.url]
    with DemoResponder(demo):
        code, report = _run(capsys, *base, "--long-term", "--trust", demo["ca"]["root"], "--json")
    assert code == 0, report
    assert report["level"] == "PAdES-B-LT" and report["note"] is None
    assert "Signature is Valid" in pdfsig(Path(report["output"]))
    code, verified = _run(
        capsys, "verify-pdf", report["output"], "--trust", demo["ca"]["root"], "--json"
    )
    assert verified["signatures"][0]["level"] == "PAdES-B-LT", verified
    # The responder is gone: the token still signs once, the result is B-T and says why.
    code, report = _run(
        capsys, *base, "--long-term", "--trust", demo["ca"]["root"], "--json", "--force"
    )
    assert code == 0, report
    assert report["level"] == "PAdES-B-T"
    assert "B-T" in report["note"] and "thu hồi" in report["note"]
    code, text = _run(capsys, *base[:-2], "--long-term")
    assert code != 0 and "--tsa" in str(text)


async def test_b_lt_finds_its_root_among_the_tokens_ca_certificates(demo) -> None:
    """The agent's roots: self-signed CA certificates it is handed (the tokens'), none given
    explicitly; without one it falls back and says so."""
    import datetime as dt

    from agent.demo.responder import DemoResponder
    from agent.signing.pdf.longterm import long_term_context

    def der(path: str) -> bytes:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
        return cert.public_bytes(serialization.Encoding.DER)

    org = der(demo["certificates"]["org"]["path"])
    issuing, root = der(demo["ca"]["issuing"]), der(demo["ca"]["root"])
    now = dt.datetime.now(dt.UTC)
    with DemoResponder(demo):
        async with long_term_context(org, (), (issuing, root), now) as (context, note):
            assert context is not None and note is None
        async with long_term_context(org, (), (issuing,), now) as (context, note):
            assert context is None and "root" in note


async def test_the_agent_states_why_a_long_term_signature_is_b_t(demo, harness, tsa) -> None:
    # The demo token carries its issuing CA but not the root: B-LT cannot be completed.
    await harness.start(timestamp_url=tsa.url, pdf_long_term=True)
    client = await harness.client()
    result = await client.call(
        "sign.pdf",
        {
            "document": base64.b64encode(make_pdf()).decode(),
            "certificate": cert_thumbprint(demo, "org"),
        },
    )
    assert result["level"] == "PAdES-B-T"
    assert "PAdES-B-T" in result["note"] and "root" in result["note"]


async def test_b_lt_without_a_timestamp_is_b_b_and_says_so(demo, token_service) -> None:
    result = await _sign(token_service, demo, "org", make_pdf(), PdfSignOptions(long_term=True))
    assert result.level is PadesLevel.B_B
    assert "B-LT" in result.note and "dấu thời gian" in result.note


def test_a_missing_seal_is_refused_before_the_pin(demo, tmp_path, capsys) -> None:
    doc = tmp_path / "hopdong.pdf"
    doc.write_bytes(make_pdf(1))
    org = demo["certificates"]["org"]["thumbprint"]
    code, text = _run(
        capsys,
        "sign-pdf",
        str(doc),
        "--cert",
        org,
        "--pin-file",
        str(tmp_path / "no-pin-file"),  # asking for the PIN would fail differently
        "--page",
        "1",
        "--box",
        "300,100,520,170",
        "--seal",
        str(tmp_path / "con-dau.png"),
    )
    assert code != 0 and "PDF_SEAL_UNREADABLE" in str(text)
    assert not (tmp_path / "hopdong_signed.pdf").exists()
