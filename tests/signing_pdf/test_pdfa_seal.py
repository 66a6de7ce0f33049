"""Interop 41: a visible stamp with a seal turned a PDF/A-1 file into one that still claims
PDF/A-1 but uses transparency, which PDF/A-1 forbids.

The stamp's seal is drawn through an ExtGState with ``/CA 0.9 /ca 0.9``
(``agent/signing/pdf/sign.py`` ``_stamp_style``: ``background_opacity=0.9``). This happens
even for a fully opaque RGB seal. A PNG with an alpha channel also brings an ``/SMask`` image.
ISO 19005-1:2005 6.4 says an ExtGState's CA and ca "shall be 1.0", and an SMask may only be
``/None``. The signed file keeps its XMP ``pdfaid:part 1`` claim, so an archive's PDF/A
validator (veraPDF rules 6.4-1 and 6.4-2) refuses a file that Kyso signed. The signature
stays valid. Kyso now reads the claim (metadata.read_xmp) and draws the seal of a PDF/A-1
file opaque, its transparent parts made white: no constant alpha below 1, no soft mask.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main

XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<pdfaid:part>1</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def _pdfa1(path: Path) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        TextStringObject,
    )

    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    content = DecodedStreamObject()
    content.set_data(b"0 0 0 rg 72 700 200 20 re f")
    page[NameObject("/Contents")] = w._add_object(content)
    meta = DecodedStreamObject()
    meta.set_data(XMP)
    meta.update({NameObject("/Type"): NameObject("/Metadata"),
                 NameObject("/Subtype"): NameObject("/XML")})  # fmt: skip
    w._root_object[NameObject("/Metadata")] = w._add_object(meta)
    icc = DecodedStreamObject()
    icc.set_data(b"\0" * 128)  # a stand-in profile: only the claim matters here
    icc[NameObject("/N")] = __import__("pypdf").generic.NumberObject(3)
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"),
        NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/DestOutputProfile"): w._add_object(icc),
    })  # fmt: skip
    w._root_object[NameObject("/OutputIntents")] = ArrayObject([w._add_object(intent)])
    buf = io.BytesIO()
    w.write(buf)
    path.write_bytes(buf.getvalue().replace(b"%PDF-1.3", b"%PDF-1.4", 1))


def _seal(path: Path, alpha: bool) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGBA" if alpha else "RGB", (120, 120), (0, 0, 0, 0) if alpha else "white")
    ImageDraw.Draw(img).ellipse((6, 6, 114, 114), outline=(200, 0, 0), width=8)
    img.save(path)


@pytest.mark.parametrize("alpha", [False, True], ids=["opaque-rgb-seal", "png-alpha-seal"])
def test_seal_on_pdfa1_adds_no_transparency(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], alpha: bool
) -> None:
    src, seal, out = tmp_path / "pdfa1.pdf", tmp_path / "seal.png", tmp_path / "signed.pdf"
    _pdfa1(src)
    _seal(seal, alpha)
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    code = main(
        ["sign-pdf", str(src), "--cert", demo["certificates"]["org"]["thumbprint"],
         "--pin-file", str(pin), "-o", str(out), "--page", "1", "--box", "300,60,560,160",
         "--seal", str(seal), "--json"]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    original = src.read_bytes()
    update = out.read_bytes()[len(original) :]
    assert out.read_bytes().startswith(original)
    assert b"pdfaid:part>1<" in out.read_bytes()  # the claim is still there
    alphas = [float(v) for v in re.findall(rb"/(?:CA|ca)\s+([0-9.]+)", update)]
    masks = re.findall(rb"/SMask\s*(/\w+|\d+ \d+ R)", update)
    # It was alphas == [0.9, 0.9]; with the alpha PNG also masks == [b'N 0 R'].
    assert all(a == 1.0 for a in alphas), f"constant alpha {alphas} in a PDF/A-1 file"
    assert all(m == b"/None" for m in masks), f"soft mask {masks} in a PDF/A-1 file"


def test_a_file_claiming_no_pdfa_keeps_the_see_through_seal(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 90 % seal (text over it stays readable) is kept where nothing forbids it."""
    from pypdf import PdfWriter

    src, seal, out = tmp_path / "plain.pdf", tmp_path / "seal.png", tmp_path / "signed.pdf"
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.write(str(src))
    _seal(seal, alpha=True)
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    code = main(
        ["sign-pdf", str(src), "--cert", demo["certificates"]["org"]["thumbprint"],
         "--pin-file", str(pin), "-o", str(out), "--page", "1", "--box", "300,60,560,160",
         "--seal", str(seal), "--json"]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    update = out.read_bytes()[src.stat().st_size :]
    assert [float(v) for v in re.findall(rb"/(?:CA|ca)\s+([0-9.]+)", update)] == [0.9, 0.9]


def test_the_pdfa_part_is_read_as_element_or_attribute() -> None:
    from pyhanko.pdf_utils import generic

    from agent.signing.pdf.metadata import read_xmp

    def root(packet: bytes) -> Any:
        stream = generic.StreamObject({}, stream_data=packet)
        return generic.DictionaryObject({generic.NameObject("/Metadata"): stream})

    attribute = XMP.replace(
        b"><pdfaid:part>1</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>",
        b' pdfaid:part="1">',
    )
    assert read_xmp(root(XMP)).pdfa_part == 1
    assert read_xmp(root(attribute)).pdfa_part == 1
    assert read_xmp(root(XMP.replace(b"part>1<", b"part>2<"))).pdfa_part == 2
    assert read_xmp(root(b"<x/>")).pdfa_part is None
