"""Fixtures for PDF signing: PDFs made with pyHanko's writer, the demo TSA, poppler's pdfsig."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from tests.server.conftest import (  # noqa: F401  (the agent harness, for sign.pdf)
    agent,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)
from tests.signing_cms.conftest import trust  # noqa: F401 - the demo PKI as a relying party


def make_pdf(
    pages: int = 2,
    *,
    title: str = "Hợp đồng lao động",
    text: str = "Nguoi ky",
    password: str | None = None,
) -> bytes:
    """A small PDF with ``pages`` A4 pages and a line of text on each, via pyHanko's writer
    (encrypted with ``password`` when given)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    for number in range(1, pages + 1):
        stream = generic.StreamObject(
            stream_data=f"BT /F1 14 Tf 72 760 Td ({text} - trang {number}) Tj ET".encode()
        )
        page = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                pdf_name("/Contents"): writer.add_object(stream),
                pdf_name("/Resources"): generic.DictionaryObject(
                    {
                        pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font}),
                    }
                ),
            }
        )
        writer.insert_page(page)
    writer.set_info(generic.DictionaryObject({pdf_name("/Title"): generic.TextStringObject(title)}))
    if password is not None:
        writer.encrypt(password, password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdfsig(path: Path) -> str:
    """poppler's pdfsig report of every signature (an independent verifier)."""
    tool = shutil.which("pdfsig")
    assert tool, "pdfsig is missing: run.sh installs poppler-utils"
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr
