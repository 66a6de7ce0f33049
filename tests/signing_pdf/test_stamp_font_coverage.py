"""A stamp font must have the Vietnamese letters it will draw (interop 41).

``--font`` with a font lacking them (an ASCII subset here; .VnTime or VNI-Times in a
Vietnamese office, which keep the letters at Latin-1 code points) was accepted: poppler drew
"K  b i: C ng ty … Vi t Nam" with .notdef glyphs while pdftotext read the right Vietnamese.
Such a font is refused before the PIN, naming the missing letters, in both languages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.errors import KysoError
from agent.signing.pdf.stampfont import FONT_CANDIDATES, check_font

DEJAVU = Path(FONT_CANDIDATES[0])


def _subset(path: Path, unicodes: list[int]) -> Path:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(DEJAVU))
    sub = subset.Subsetter(subset.Options())
    sub.populate(unicodes=unicodes)
    sub.subset(font)
    font.save(str(path))
    return path


def test_an_ascii_only_font_is_refused_before_the_pin(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pypdf import PdfWriter

    src, out = tmp_path / "a.pdf", tmp_path / "signed.pdf"
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.write(str(src))
    font = _subset(tmp_path / "ascii.ttf", list(range(0x20, 0x7F)))
    pin = tmp_path / "pin.txt"
    pin.write_text("wrong PIN: never asked for\n")
    thumb = demo["certificates"]["org"]["thumbprint"]
    code = main(
        ["sign-pdf", str(src), "--cert", thumb, "--pin-file", str(pin), "-o", str(out),
         "--page", "1", "--box", "300,60,560,160", "--font", str(font), "--json"]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code != 0 and not out.exists()
    error = report["error"]
    assert error["code"] == "INPUT_INVALID"
    assert "no letter for à á" in error["message_en"] and "tiếng Việt" in error["message_vi"]


def test_a_font_missing_one_letter_names_it(tmp_path: Path) -> None:
    from agent.signing.pdf.stampfont import STAMP_CHARACTERS

    unicodes = [ord(c) for c in STAMP_CHARACTERS if c != "ỹ"]
    font = _subset(tmp_path / "almost.ttf", [0x20, *unicodes])
    with pytest.raises(KysoError) as refused:
        check_font(font)
    assert re.search(r"no letter for ỹ \(", refused.value.message_en)


def test_a_vietnamese_unicode_font_is_taken(tmp_path: Path) -> None:
    assert check_font(DEJAVU) == DEJAVU
