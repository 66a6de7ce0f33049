"""A damaged PDF ends as PDF_MALFORMED before the consent and the PIN, never as a traceback
from inside pyHanko after it: inspect_pdf rehearses in memory what pyHanko reads and changes
when it signs (the page tree down to the page a field goes on, /Annots, /AcroForm /Fields,
/Perms, /Extensions, the metadata), and what still slips through signing is PDF_MALFORMED too.

The files are written byte by byte here (pyHanko's writer refuses to make them): the interop
round's hybrid file whose classic table marks the compressed page objects free with generation
1, a /Kids loop, a /Pages that is not a dictionary, a null /Root, and more. Each shape that is
refused is shown to make pyHanko's own signing fail; each shape pyHanko signs is not refused.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.pdf import PdfSignOptions, inspect_pdf, sign_pdf
from tests.conftest import cert_thumbprint, pin_asks
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf

CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R%s >>"
CONTENT = b"BT /F1 14 Tf 72 760 Td (Trang 1) Tj ET"


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def raw_pdf(
    changes: dict[int, bytes | None] | None = None,
    *,
    root: bytes = b"1 0 R",
    trailer: bytes = b"",
    compressed: dict[int, bytes] | None = None,
) -> bytes:
    """A one-page PDF whose objects (1 catalog, 2 pages, 3 page, 4 content) are replaced by
    ``changes`` (None: the object is left out, its number marked free with generation 1).
    ``compressed``: objects put in an object stream listed only by a /XRefStm, while the
    classic table marks them free (a hybrid-reference file)."""
    objects: dict[int, bytes | None] = {1: CATALOG, 2: PAGES, 3: PAGE % b"", 4: _stream(CONTENT)}
    objects.update(changes or {})
    compressed = compressed or {}
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in sorted(objects.items()):
        if body is not None and number not in compressed:
            offsets[number] = len(out)
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    size = max([*objects, *compressed, 9]) + 1
    if compressed:
        header = body_bytes = b""
        for number, body in sorted(compressed.items()):
            header += b"%d %d " % (number, len(body_bytes))
            body_bytes += body + b" "
        stm, xref_stm = size, size + 1
        offsets[stm] = len(out)
        extra = b" /Type /ObjStm /N %d /First %d" % (len(compressed), len(header))
        out += b"%d 0 obj\n%s\nendobj\n" % (stm, _stream(header + body_bytes, extra))
        rows = b"".join(struct.pack(">BIH", 2, stm, i) for i in range(len(compressed)))
        first = min(compressed)
        offsets[xref_stm] = len(out)
        extra = b" /Type /XRef /Size %d /Index [%d %d] /W [1 4 2]" % (
            xref_stm + 1,
            first,
            len(compressed),
        )
        out += b"%d 0 obj\n%s\nendobj\n" % (xref_stm, _stream(rows, extra))
        trailer += b" /XRefStm %d" % offsets[xref_stm]
        size = xref_stm + 1
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        if number in offsets:
            out += b"%010d 00000 n \n" % offsets[number]
        else:
            out += b"0000000000 00001 f \n"
    out += b"trailer\n<< /Size %d /Root %s%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        root,
        trailer,
        table,
    )
    return bytes(out)


def _catalog(extra: bytes) -> dict[int, bytes | None]:
    return {1: b"<< /Type /Catalog /Pages 2 0 R %s >>" % extra}


# name → (file, the pages a placement names)
MALFORMED: dict[str, tuple[bytes, tuple[int, ...]]] = {
    # The interop round's file: pages 3 and 4 compressed, their classic entries "free, gen 1".
    "hybrid, page objects free with generation 1": (
        raw_pdf(
            {2: b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>", 3: None, 5: None},
            compressed={3: PAGE % b"", 5: PAGE % b""},
        ),
        (),
    ),
    "/Kids loop": (raw_pdf({2: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"}), ()),
    "/Kids loop through a node": (
        raw_pdf(
            {
                2: b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
                5: b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
            }
        ),
        (),
    ),
    "/Pages not a dictionary": (raw_pdf({2: b"[3 0 R]"}), ()),
    "/Pages a direct dictionary": (
        raw_pdf(_catalog(b"") | {1: b"<< /Type /Catalog /Pages %s >>" % PAGES}),
        (),
    ),
    "null /Root": (raw_pdf(root=b"null"), ()),
    "/Root a free object": (raw_pdf({1: None}), ()),
    "page object free": (raw_pdf({3: None}), ()),
    "null in /Kids": (raw_pdf({2: b"<< /Type /Pages /Kids [null] /Count 1 >>"}), ()),
    "no pages (/Count 0)": (raw_pdf({2: b"<< /Type /Pages /Kids [3 0 R] /Count 0 >>"}), ()),
    "/Count past the pages, placed there": (
        raw_pdf({2: b"<< /Type /Pages /Kids [3 0 R] /Count 3 >>"}),
        (3,),
    ),
    "/Annots a dictionary": (raw_pdf({3: PAGE % b" /Annots << /A 1 >>"}), ()),
    "/Annots a free object": (raw_pdf({3: PAGE % b" /Annots 8 0 R"}), ()),
    "null in /AcroForm /Fields": (raw_pdf(_catalog(b"/AcroForm << /Fields [null] >>")), ()),
    "/Perms an array": (raw_pdf(_catalog(b"/Perms [1]")), ()),
    "/DocMDP with /P 7": (
        raw_pdf(
            _catalog(
                b"/Perms << /DocMDP << /Type /Sig /Reference [<< /TransformMethod /DocMDP "
                b"/TransformParams << /P 7 >> >>] >> >>"
            )
        ),
        (),
    ),
    "/Extensions /ESIC a number": (raw_pdf(_catalog(b"/Extensions << /ESIC 6 >>")), ()),
    "XMP that is not XML": (
        raw_pdf(
            _catalog(b"/Metadata 5 0 R")
            | {5: _stream(b"<not xml", b" /Type /Metadata /Subtype /XML")}
        ),
        (),
    ),
}

# Odd but signable: pyHanko signs these, so Kyso must not refuse them. (A /Count past the pages
# held is refused although pyHanko signs it: viewers show different pages, test_page_count.py.)
SIGNABLE: dict[str, bytes] = {
    "plain": raw_pdf(),
    "null /AcroForm": raw_pdf(_catalog(b"/AcroForm null")),
    "a /Parent loop": raw_pdf({3: b"<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>"}),
    "/Metadata a free object": raw_pdf(_catalog(b"/Metadata 8 0 R")),
    "/DocMDP without a /Reference": raw_pdf(_catalog(b"/Perms << /DocMDP << /Type /Sig >> >>")),
}


def pyhanko_signs(demo: dict[str, Any], data: bytes, page: int | None) -> None:
    """pyHanko alone signs ``data`` as Kyso does (PAdES, a new field: invisible, or visible
    on ``page``, 1-based), with the demo issuing CA's key; raises what pyHanko raises."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    ca = demo["ca"]
    signer = signers.SimpleSigner.load(ca["issuing_key"], ca["issuing"])
    spec = (
        None if page is None else fields.SigFieldSpec("K", on_page=page - 1, box=(40, 60, 250, 135))
    )
    meta = signers.PdfSignatureMetadata(field_name="K", subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    signers.PdfSigner(meta, signer, new_field_spec=spec).sign_pdf(writer, output=io.BytesIO())


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_file_pyhanko_cannot_sign_is_refused_as_malformed_when_inspected(demo, name: str) -> None:
    data, pages = MALFORMED[name]
    with pytest.raises(KysoError) as err:
        inspect_pdf(data, size_of_pages=pages)
    assert err.value.code == "PDF_MALFORMED", err.value
    assert len(err.value.details["detail"]) <= 300
    # The refusal is not caution: pyHanko's own signing fails on it, and not with an error of
    # the kind Kyso maps to PDF_SIGN_FAILED (FormFillingError, SigningError's base): before the
    # fix, a traceback after the PIN.
    from pyhanko.pdf_utils.misc import FormFillingError

    with pytest.raises(Exception) as failed:  # whatever pyHanko raises
        pyhanko_signs(demo, data, pages[0] if pages else None)
    assert not isinstance(failed.value, FormFillingError), failed.value


@pytest.mark.parametrize("name", list(SIGNABLE))
def test_a_file_pyhanko_signs_is_not_refused(demo, name: str) -> None:
    data = SIGNABLE[name]
    inspect_pdf(data, size_of_pages=(1,))
    for page in (None, 1):
        pyhanko_signs(demo, data, page)


def test_the_cli_refuses_the_hybrid_file_before_the_pin(
    demo, tmp_path: Path, capsys, monkeypatch
) -> None:
    asked = pin_asks(monkeypatch)
    doc = tmp_path / "hybrid.pdf"
    doc.write_bytes(MALFORMED["hybrid, page objects free with generation 1"][0])
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    base = ["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin), "--json"]
    for extra in ([], ["--page", "1", "--box", "40,60,250,135"]):
        capsys.readouterr()
        code = main([*base, *extra])
        captured = capsys.readouterr()
        assert code != 0 and "PDF_MALFORMED" in captured.out + captured.err, captured
        assert "Traceback" not in captured.err
    assert asked == [] and not (tmp_path / "hybrid_signed.pdf").exists()


async def test_the_agent_refuses_damaged_files_before_any_prompt(demo, agent) -> None:
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    for name in ("hybrid, page objects free with generation 1", "/Kids loop", "null /Root"):
        document = base64.b64encode(MALFORMED[name][0]).decode()
        for extra in ({}, {"placement": {"page": 1, "box": [40, 60, 250, 135]}}):
            params = {"document": document, "certificate": org, **extra}
            reply = await client.request("sign.pdf", params)
            assert reply["error"]["data"]["code"] == "PDF_MALFORMED", (name, reply)
            items = [{"kind": "pdf", "document": document, **extra}]
            reply = await client.request("sign.batch", {"items": items, "certificate": org})
            assert "PDF_MALFORMED" in str(reply["error"]), (name, reply)
    assert agent.prompter.prompts == []


async def test_what_signing_meets_unprepared_is_still_pdf_malformed(demo, token_service) -> None:
    """Facts of another file (a shape the rehearsal did not reach): pyHanko's TypeError inside
    the signing ends as PDF_MALFORMED, not as a traceback."""
    damaged = MALFORMED["hybrid, page objects free with generation 1"][0]
    facts = inspect_pdf(make_pdf(1))
    async with token_signer(token_service, demo, "org") as signer:
        with pytest.raises(KysoError) as err:
            await sign_pdf(damaged, signer, PdfSignOptions(), facts=facts)
    assert err.value.code == "PDF_MALFORMED" and "TypeError" in err.value.details["detail"]


def test_a_damaged_offset_read_from_the_file_itself_is_pdf_malformed(
    demo, tmp_path: Path, capsys, monkeypatch
) -> None:
    """``startxref -5``: read from bytes it is ValueError (PDF_MALFORMED), but sign-pdf reads
    the file in place, where the OS says EINVAL (an OSError): INTERNAL_ERROR, until the file
    reader reports a seek to an impossible offset the way bytes do."""
    data = re.sub(rb"startxref\s+\d+", b"startxref\n-5", raw_pdf())
    doc = tmp_path / "negxref.pdf"
    doc.write_bytes(data)
    for source in (data, doc.open("rb")):
        with pytest.raises(KysoError) as err:
            inspect_pdf(source)
        assert err.value.code == "PDF_MALFORMED", err.value
    asked = pin_asks(monkeypatch)
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    code = main(["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["error"]["code"] == "PDF_MALFORMED" and asked == []


@pytest.mark.parametrize("font", ["missing.ttf", "garbage.ttf", "/dev/zero", "folder"])
def test_a_font_that_is_not_one_is_refused_before_the_pin_never_replaced(
    demo, tmp_path: Path, capsys, monkeypatch, font: str
) -> None:
    """--font naming no font: it was silently replaced by an installed one (a missing file, a
    device, a pipe) or ended in INTERNAL_ERROR after the PIN (a file that is no font)."""
    (tmp_path / "garbage.ttf").write_bytes(b"\x00\x01\x00\x00" + b"garbage" * 100)
    (tmp_path / "folder").mkdir()
    path = font if font.startswith("/") else str(tmp_path / font)
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(raw_pdf())
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    asked = pin_asks(monkeypatch)
    org = demo["certificates"]["org"]["thumbprint"]
    argv = ["sign-pdf", str(doc), "--cert", org, "--pin-file", str(pin), "--json"]
    code = main([*argv, "--page", "1", "--box", "40,60,250,135", "--font", path])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and out["error"]["code"] == "INPUT_INVALID", out
    assert "--font" in out["error"]["message_en"] and asked == []
    assert not (tmp_path / "doc_signed.pdf").exists()
