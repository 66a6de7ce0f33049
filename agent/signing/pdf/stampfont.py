"""The stamp's font: found or chosen, checked before the PIN, rescaled for pyHanko."""

from __future__ import annotations

import os
from pathlib import Path

from agent.errors import KysoError, invalid_input
from agent.files import open_regular

# Fonts with every Vietnamese diacritic, looked for in this order (Debian, Windows, macOS).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
)


def find_font(explicit: Path | None = None) -> Path:
    """The font asked for (:func:`check_font`: never silently another), else an installed
    TrueType font with Vietnamese letters; PDF_FONT_MISSING when none is installed."""
    if explicit is not None:
        return check_font(explicit)
    for candidate in map(Path, FONT_CANDIDATES):
        if candidate.is_file():
            return candidate
    raise KysoError("PDF_FONT_MISSING", {"paths": ", ".join(FONT_CANDIDATES)})


FONT_MAX_BYTES = 64 * 1024 * 1024  # a CJK font runs to tens of MB


def check_font(path: Path) -> Path:
    """``path`` when it is a TrueType/OpenType font file Kyso can draw the stamp with;
    INPUT_INVALID naming it otherwise (missing, a pipe, a folder, not a font), before the PIN."""
    from fontTools.ttLib import TTFont

    try:
        with open_regular(path, max_bytes=FONT_MAX_BYTES):
            pass
    except KysoError as exc:  # INPUT_INVALID (it says why), or DOCUMENT_TOO_LARGE
        detail = exc.details.get("detail")
        if detail:
            detail_vi = exc.details.get("detail_vi") or detail
        else:
            detail = f"{path} is too large for a font"
            detail_vi = f"{path} quá lớn đối với một tệp phông chữ"
        raise invalid_input(f"--font: {detail}", f"--font: {detail_vi}") from exc
    try:
        font = TTFont(str(path), lazy=True)
        # Read now: a file that is no font fails here, not after the PIN.
        font["head"]
        covered = set(font.getBestCmap() or {})
    except Exception as exc:  # fontTools raises many kinds on a file that is no font
        raise invalid_input(
            f"--font: {path} is not a TrueType/OpenType font ({type(exc).__name__})",
            f"--font: {path} không phải tệp phông chữ TrueType/OpenType ({type(exc).__name__})",
        ) from exc
    # A font without Vietnamese letters (an ASCII subset; .VnTime or VNI-Times, which keep them
    # at Latin-1 code points) draws blanks where the text layer reads them (interop 41).
    missing = [c for c in STAMP_CHARACTERS if ord(c) not in covered]
    if missing:
        shown = " ".join(missing[:12]) + (" …" if len(missing) > 12 else "")
        raise invalid_input(
            f"--font: {path} has no letter for {shown} (the stamp is written in Vietnamese, "
            "in Unicode): choose a Unicode font with Vietnamese letters, such as DejaVu Sans, "
            "Arial or Times New Roman",
            f"--font: phông {path} không có chữ {shown} (dòng chữ trên chữ ký là tiếng Việt "
            "Unicode): hãy chọn phông Unicode có đủ chữ tiếng Việt, như DejaVu Sans, Arial "
            "hoặc Times New Roman",
        )
    return path


def _vietnamese_letters() -> str:
    """Every precomposed Vietnamese letter, lower and upper case, with đ/Đ."""
    import unicodedata

    tones = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
    lower = [unicodedata.normalize("NFC", base + tone) for base in "aăâeêioôơuưy" for tone in tones]
    letters = "".join(lower) + "đ"
    return letters + letters.upper()


# What a stamp may be written with: printable ASCII (names, MST, dates) and Vietnamese.
STAMP_CHARACTERS = "".join(chr(c) for c in range(0x21, 0x7F)) + _vietnamese_letters()


def stamp_font(path: Path, cache_dir: Path | None = None) -> Path:
    """``path`` rescaled to 1000 units per em, cached beside the agent's data.

    pyHanko writes a TrueType font's advance widths (/W) and kerning in the font's own units,
    while PDF reads them as thousandths of an em: with DejaVu or Arial (2048 units) every letter
    would be drawn twice as far apart. Rescaling the outline once makes the units agree."""
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    font = TTFont(str(path), lazy=True)
    if font["head"].unitsPerEm == 1000:
        return path
    stat = path.stat()
    if cache_dir is None:
        from agent.config.paths import data_dir

        cache_dir = data_dir() / "fonts"
    target = cache_dir / f"{path.stem}-1000upem-{stat.st_size:x}{int(stat.st_mtime):x}.ttf"
    if target.is_file():
        return target
    font = TTFont(str(path))
    scale_upem(font, 1000)
    if "FFTM" in font:  # FontForge's timestamps: the subsetter cannot keep them and says so
        del font["FFTM"]
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    font.save(str(partial))
    os.replace(partial, target)
    return target
