"""A PDF dictionary that names one key twice is refused before the consent: pyHanko keeps the
first value, poppler (the consent's own preview, Evince, Okular) the last, and signing writes the
page and catalog again from pyHanko's reading, so the signed copy showed another amount than the
one the person saw, and a harmless first /OpenAction hid a script from the consent."""

from __future__ import annotations

import base64
import logging
import struct
import threading

import pytest

from agent.errors import KysoError
from agent.signing.pdf import inspect_pdf
from agent.signing.pdf.syntax import repeated_keys
from tests.conftest import cert_thumbprint

from .test_malformed_pdfs import PAGE, _stream, raw_pdf

SEEN = b"BT /F1 14 Tf 72 760 Td (Gia tri: 10.000.000 VND) Tj ET"
SIGNED = b"BT /F1 14 Tf 72 760 Td (Gia tri: 990.000.000 VND) Tj ET"
SCRIPT = b"<< /S /JavaScript /JS (app.alert\\('x'\\)) >>"

CASES = {
    # poppler draws the second stream; pyHanko would write the page back with the first
    "page /Contents twice": {3: PAGE % b" /Contents 5 0 R", 4: _stream(SIGNED), 5: _stream(SEEN)},
    "catalog /OpenAction twice, the script second": {
        1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] /OpenAction %s >>" % SCRIPT
    },
    # Not reached from the catalog at all: every object of the file is read once.
    "an object nothing points at": {6: b"<< /Type /Annot /A 7 0 R /A 8 0 R >>"},
}


@pytest.mark.parametrize("name", CASES)
def test_a_repeated_key_is_pdf_malformed(name: str) -> None:
    with pytest.raises(KysoError) as refused:
        inspect_pdf(raw_pdf(CASES[name]))
    assert refused.value.code == "PDF_MALFORMED"
    assert "same key twice" in refused.value.details["detail"]


def test_the_same_file_with_each_key_once_is_read() -> None:
    facts = inspect_pdf(raw_pdf({6: b"<< /Type /Annot /A 7 0 R >>"}))
    assert facts.pages == 1


async def test_the_agent_refuses_it_before_any_prompt(demo, agent) -> None:
    client = await agent.client()
    document = base64.b64encode(raw_pdf(CASES["page /Contents twice"])).decode()
    params = {"document": document, "certificate": cert_thumbprint(demo, "org")}
    reply = await client.request("sign.pdf", params)
    assert reply["error"]["data"]["code"] == "PDF_MALFORMED", reply
    assert agent.prompter.prompts == []


def test_only_the_collecting_threads_warnings_count() -> None:
    logger = logging.getLogger("pyhanko.pdf_utils.generic")
    message = "Multiple definitions in dictionary at byte 0x10 for key /A"
    with repeated_keys() as found:
        elsewhere = threading.Thread(target=logger.warning, args=(message,))
        elsewhere.start()
        elsewhere.join()
        assert found == []  # another file read at the same time on another thread
        logger.warning(message)
    assert found == [message]


@pytest.mark.parametrize("name", [*CASES, "trailer /Root twice"])
def test_refused_even_when_pyhankos_warnings_are_silenced(name: str) -> None:
    """A program (or a test) that silenced pyHanko's logger must not switch the check off."""
    document = (
        raw_pdf(trailer=b" /Root 1 0 R") if name == "trailer /Root twice" else raw_pdf(CASES[name])
    )
    logger = logging.getLogger("pyhanko")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with pytest.raises(KysoError) as refused:
            inspect_pdf(document)
    finally:
        logger.setLevel(level)
    assert refused.value.code == "PDF_MALFORMED"


def _in_an_object_stream(page: bytes) -> bytes:
    """A file whose page object sits in an object stream, with an xref stream."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}

    def put(number: int, body: bytes) -> None:
        offsets[number] = len(out)
        out.extend(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    put(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    put(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    put(4, _stream(SIGNED))
    put(5, _stream(SEEN))
    header = b"3 0 "
    put(6, _stream(header + page, b" /Type /ObjStm /N 1 /First %d" % len(header)))
    table = len(out)
    rows = b""
    for number in range(8):
        if number == 0:
            rows += struct.pack(">BIH", 0, 0, 65535)
        elif number == 3:
            rows += struct.pack(">BIH", 2, 6, 0)
        elif number == 7:
            rows += struct.pack(">BIH", 1, table, 0)
        else:
            rows += struct.pack(">BIH", 1, offsets[number], 0)
    put(7, _stream(rows, b" /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R"))
    out.extend(b"startxref\n%d\n%%%%EOF\n" % table)
    return bytes(out)


PAGE_TWICE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Contents 5 0 R >>"
)


@pytest.mark.parametrize("silenced", ["no", "logging.disable", "logger disabled"])
def test_a_repeat_inside_an_object_stream_is_refused_whatever_the_logging(silenced: str) -> None:
    logger = logging.getLogger("pyhanko.pdf_utils.generic")
    try:
        if silenced == "logging.disable":
            logging.disable(logging.WARNING)
        elif silenced == "logger disabled":
            logger.disabled = True  # what dictConfig does to loggers it does not name
        with pytest.raises(KysoError) as refused:
            inspect_pdf(_in_an_object_stream(PAGE_TWICE))
    finally:
        logging.disable(logging.NOTSET)
        logger.disabled = False
    assert refused.value.code == "PDF_MALFORMED"
    assert "/Contents" in refused.value.details["detail"]


def test_a_trailer_repeat_is_refused_with_logging_disabled() -> None:
    logging.disable(logging.WARNING)
    try:
        with pytest.raises(KysoError) as refused:
            inspect_pdf(raw_pdf(trailer=b" /Root 1 0 R"))
    finally:
        logging.disable(logging.NOTSET)
    assert refused.value.code == "PDF_MALFORMED"


@pytest.mark.parametrize(
    "page",
    [
        PAGE % b" /Type /Page",  # the same name twice: a scanner's PDF/A does this
        PAGE % b" /Resources << /ProcSet [/PDF /Text] /ProcSet [/PDF /Text] >>",  # nested
        PAGE % b" /Contents 4 0 R",  # the same reference twice
    ],
    ids=["name", "nested array", "reference"],
)
def test_a_key_written_twice_with_the_same_value_is_read(page: bytes) -> None:
    for document in (raw_pdf({3: page}), _in_an_object_stream(page)):
        assert inspect_pdf(document).pages == 1


def test_a_nested_repeat_with_another_value_is_refused() -> None:
    page = PAGE % b" /Resources << /Font << /F1 6 0 R >> /Font << /F1 7 0 R >> >>"
    with pytest.raises(KysoError) as refused:
        inspect_pdf(raw_pdf({3: page}))
    assert "/Font" in refused.value.details["detail"]


def test_a_file_too_large_to_check_whole_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.signing.pdf import syntax
    from agent.signing.pdf.active import INCOMPLETE

    monkeypatch.setattr(syntax, "PASS_OBJECTS", 1)
    assert INCOMPLETE in inspect_pdf(raw_pdf()).active_content


async def test_verify_pdf_refuses_a_signed_file_that_readers_read_differently(demo, trust) -> None:
    """Another tool (pyHanko alone) signed a file with a dictionary that names a key twice with
    different values, which the signature then covers as it is (pyHanko writes again only what
    it changes: a page it puts the field on would come out with one value). Its bytes are
    intact, but readers disagree on what they hold: verify-pdf (as the signing side) refuses to
    call it valid."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from agent.signing.pdf.verify import verify_pdf

    ca = demo["ca"]
    meta = signers.PdfSignatureMetadata(field_name="K", subfilter=fields.SigSeedSubFilter.PADES)
    signer = signers.SimpleSigner.load(ca["issuing_key"], ca["issuing"])
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(
        io.BytesIO(raw_pdf(CASES["an object nothing points at"])), strict=False
    )
    await signers.PdfSigner(meta, signer).async_sign_pdf(writer, output=out)
    with pytest.raises(KysoError) as refused:
        await verify_pdf(out.getvalue(), trust)
    assert refused.value.code == "PDF_MALFORMED"
    assert "same key twice" in refused.value.details["detail"]


async def test_verify_pdf_reads_each_signed_revision_as_it_stood(demo, trust) -> None:
    """The ambiguous object written once more, cleanly, in an update after the signature: the
    newest revision reads well, but what was signed is the revision before it."""
    import io

    from pyhanko.pdf_utils.generic import Reference
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from agent.signing.pdf.verify import verify_pdf

    ca = demo["ca"]
    meta = signers.PdfSignatureMetadata(field_name="K", subfilter=fields.SigSeedSubFilter.PADES)
    signer = signers.SimpleSigner.load(ca["issuing_key"], ca["issuing"])
    signed = io.BytesIO()
    writer = IncrementalPdfFileWriter(
        io.BytesIO(raw_pdf(CASES["an object nothing points at"])), strict=False
    )
    await signers.PdfSigner(meta, signer).async_sign_pdf(writer, output=signed)
    later = IncrementalPdfFileWriter(io.BytesIO(signed.getvalue()), strict=False)
    later.mark_update(Reference(6, 0, later.prev))  # written again with one /A
    updated = io.BytesIO()
    later.write(updated)
    with pytest.raises(KysoError) as refused:
        await verify_pdf(updated.getvalue(), trust)
    assert refused.value.code == "PDF_MALFORMED"
