"""Interop 41: a visible stamp asked for page 2 was drawn on every page when the pages share
one /Annots array object (now the page gets an array of its own: agent.signing.pdf.annots).

A file whose pages all point to one indirect empty array (``/Annots 5 0 R`` on each page) is a
legal PDF. pypdf's ``compress_identical_objects()`` makes exactly this file from per-page empty
arrays. Kyso (through pyHanko's field insertion) appends the new widget to that shared array.
The result:
- the widget is listed in every page's /Annots, while its /P names page 2;
- poppler draws the stamp on pages 1, 2 and 3, and ``pdftotext`` reads "Ký bởi: …" on every page;
- pdfsig, pyHanko and ``verify-pdf`` still say VALID and mention no page.

ISO 32000-2 12.5.2 says a given annotation dictionary shall be referenced from the /Annots
array of only one page. The signer agreed to a stamp on page 2. A seal drawn with opacity 0.9
on the other pages can also cover their text.

The widget must be referenced from page 2's /Annots only.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main


def _shared_annots_pdf(path: Path, pages: int = 3) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, NameObject

    w = PdfWriter()
    for i in range(pages):
        page = w.add_blank_page(595, 842)
        page[NameObject("/Annots")] = w._add_object(ArrayObject([]))
        body = DecodedStreamObject()
        body.set_data(b"0 0 1 rg 72 %d 100 20 re f" % (700 - 40 * i))
        page[NameObject("/Contents")] = w._add_object(body)
    w.compress_identical_objects()  # the three empty arrays become one object
    w.write(str(path))


def _sign(demo: dict[str, Any], src: Path, out: Path, tmp_path: Path) -> None:
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    code = main(
        ["sign-pdf", str(src), "--cert", demo["certificates"]["org"]["thumbprint"],
         "--pin-file", str(pin), "-o", str(out), "--page", "2", "--box", "300,60,560,160",
         "--json"]
    )  # fmt: skip
    assert code == 0


def test_input_really_shares_one_annots_array(tmp_path: Path) -> None:
    from pypdf import PdfReader

    src = tmp_path / "shared.pdf"
    _shared_annots_pdf(src)
    refs = {PdfReader(str(src)).pages[i].raw_get("/Annots").idnum for i in range(3)}
    assert len(refs) == 1


def test_stamp_for_page_2_is_on_page_2_only(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfReader

    src, out = tmp_path / "shared.pdf", tmp_path / "signed.pdf"
    _shared_annots_pdf(src)
    _sign(demo, src, out, tmp_path)
    capsys.readouterr()
    reader = PdfReader(str(out))
    listed = [
        i + 1
        for i, page in enumerate(reader.pages)
        if any(a.get_object().get("/FT") == "/Sig" for a in page.get("/Annots", []))
    ]
    assert listed == [2], f"the signature widget is drawn on pages {listed}"


def test_pdftotext_reads_the_stamp_on_page_2_only(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext is not None, "poppler-utils (pdftotext) is installed by ./run.sh setup"
    src, out = tmp_path / "shared.pdf", tmp_path / "signed.pdf"
    _shared_annots_pdf(src)
    _sign(demo, src, out, tmp_path)
    capsys.readouterr()
    pages = []
    for n in (1, 2, 3):
        text = subprocess.run(
            [pdftotext, "-f", str(n), "-l", str(n), str(out), "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        if "Ký bởi" in text:
            pages.append(n)
    assert pages == [2], f"poppler shows the stamp on pages {pages}"


def _clause_on_page_1(path: Path) -> None:
    """Three pages sharing one /Annots array; page 1 has a clause where the stamp box will be."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    font = w._add_object(
        DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        })
    )  # fmt: skip
    for i in range(3):
        page = w.add_blank_page(595, 842)
        page[NameObject("/Annots")] = w._add_object(ArrayObject([]))
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        body = DecodedStreamObject()
        body.set_data(
            b"BT /F1 14 Tf 320 100 Td (Dieu 5: Ben B chiu moi chi phi) Tj ET"
            if i == 0
            else b"BT /F1 14 Tf 72 700 Td (Trang) Tj ET"
        )
        page[NameObject("/Contents")] = w._add_object(body)
    w.compress_identical_objects()
    w.write(str(path))


def test_the_covered_text_guard_holds_on_the_pages_the_stamp_lands_on(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kyso refuses a stamp over page 1's clause (PDF_PLACEMENT_INVALID, "would cover the
    document's own text"). Asked for page 3, which is empty there, the same stamp is drawn over
    the clause on page 1 anyway."""
    from pypdf import PdfReader

    src = tmp_path / "clause.pdf"
    _clause_on_page_1(src)
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    thumb = demo["certificates"]["org"]["thumbprint"]
    args = [
        "sign-pdf",
        str(src),
        "--cert",
        thumb,
        "--pin-file",
        str(pin),
        "--box",
        "300,60,560,160",
        "--json",
    ]
    refused = main([*args, "-o", str(tmp_path / "p1.pdf"), "--page", "1"])
    assert refused != 0  # the guard, on the page asked for
    capsys.readouterr()
    out = tmp_path / "p3.pdf"
    assert main([*args, "-o", str(out), "--page", "3"]) == 0
    capsys.readouterr()
    page1 = PdfReader(str(out)).pages[0]
    # It was: page 1 listed the widget, and poppler drew the stamp over the clause.
    assert not any(a.get_object().get("/FT") == "/Sig" for a in page1.get("/Annots", []))


def test_the_signed_file_with_its_own_array_verifies_everywhere(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's new array is part of the signed revision: pdfsig and Kyso call it valid, and
    a second signature on page 3 leaves the first intact."""
    import json

    src, out, twice = tmp_path / "shared.pdf", tmp_path / "signed.pdf", tmp_path / "twice.pdf"
    _shared_annots_pdf(src)
    _sign(demo, src, out, tmp_path)
    pin = tmp_path / "pin.txt"
    thumb = demo["certificates"]["org"]["thumbprint"]
    second = ["sign-pdf", str(out), "--cert", thumb, "--pin-file", str(pin), "-o", str(twice)]
    assert main([*second, "--page", "3", "--box", "300,60,560,160", "--json"]) == 0
    capsys.readouterr()
    trust = [
        "--trust",
        demo["ca"]["chain"],
        "--crl",
        demo["ca"]["crl"],
        "--crl",
        demo["ca"]["root_crl"],
    ]
    assert main(["verify-pdf", str(twice), *trust, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["intact"] for s in report["signatures"]] == [True, True], report
    pdfsig = shutil.which("pdfsig")
    assert pdfsig is not None
    shown = subprocess.run([pdfsig, str(twice)], capture_output=True, text=True).stdout
    assert shown.count("Signature is Valid.") == 2, shown


def _indirect_annots_pdf(pages: int, *, shared_with_last: bool) -> bytes:
    """``pages`` pages under one /Pages node, each with its own indirect empty /Annots array;
    the last page names page 1's array when ``shared_with_last``."""
    import io

    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()
    for i in range(pages):
        annots = 4 if shared_with_last and i == pages - 1 else 4 + 2 * i
        objects[3 + 2 * i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots {annots} 0 R >>"
        ).encode()
        objects[4 + 2 * i] = b"[]"
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n")
    xref = out.tell()
    size = max(objects) + 1
    out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
    for number in range(1, size):
        out.write(f"{offsets[number]:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


@pytest.mark.parametrize("shared", [False, True])
def test_the_page_tree_is_walked_once_whatever_its_size(
    monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """Review 41: one walk of the tree per page made it quadratic, on the agent's event loop
    after the consent (3000 pages: 41 s). The sharing page is the last one, found all the same."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from agent.signing.pdf.annots import own_annots

    pages = 3000
    writer = IncrementalPdfFileWriter(
        io.BytesIO(_indirect_annots_pdf(pages, shared_with_last=shared))
    )
    walks = []
    real = writer.find_page_for_modification
    monkeypatch.setattr(writer, "find_page_for_modification", lambda i: walks.append(i) or real(i))
    own_annots(writer, 0, pages)
    assert walks == [0]
    page = writer.find_page_for_modification(0)[0].get_object()
    assert (type(page.raw_get("/Annots")).__name__ == "ArrayObject") is shared
