"""Every character of CMS text is either shown (after the dialog's rendering) or counted in the
warning (review 39). The chunks are measured before the renderer NFC-normalises and
drops baseless combining marks, so both can hide text without a count."""

from __future__ import annotations

from agent.server.consent import data_item
from agent.ui.text import item_section


def _values(data: bytes) -> list[str]:
    item = data_item(data, detached=True)
    return [f.value for f in item_section(item, 1, 1).fields]


def _shown(data: bytes) -> list[tuple[str, str]]:
    item = data_item(data, detached=True)
    return [(f.label_vi, f.value) for f in item_section(item, 1, 1).fields]


def test_nfc_expansion_does_not_cut_a_chunk_silently() -> None:
    # U+0958 (DEVANAGARI QA) is a composition exclusion: NFC writes it as two code points,
    # so a 200-wide chunk renders as 400 characters and is cut at VALUE_LIMIT with a bare "…".
    text = "\u0958" * 150 + " PHẠT 9.000.000.000 ĐỒNG"
    values = _values(text.encode())
    assert any("9.000.000.000" in v for v in values) or any("không hiện" in v for v in values), (
        values
    )


def test_a_chunk_boundary_does_not_drop_a_combining_mark() -> None:
    # "=" + U+0338 is "≠". Split between the two, the renderer drops the baseless U+0338 of
    # the next chunk: the consent reads "=" where the text says "≠".
    text = "a" * 199 + "=\u0338" + "B"
    values = _values(text.encode())
    joined = "".join(values)
    assert "≠" in joined or "\u0338" in joined, values


def test_nfd_vietnamese_keeps_its_marks_across_a_chunk_boundary() -> None:
    import unicodedata

    word = unicodedata.normalize("NFD", "không đồng ý ")
    text = "x" * (200 - 3) + word * 3  # the boundary falls after "kho", before U+0302
    values = _values(text.encode())
    joined = "".join(values)
    assert joined.count("không") == 3, values


def test_a_space_at_a_chunk_boundary_is_not_lost() -> None:
    """The next chunk starts with the space the line broke at, and the renderer trims it:
    "…1" / "2 triệu" reads the same whether the text says "1 2 triệu" or "12 triệu"."""
    spaced = ("x" * 199 + "1 2 triệu").encode()
    joined = ("x" * 199 + "12 triệu").encode()
    assert _shown(spaced)[:2] != _shown(joined)[:2]  # a break inside a word is labelled so
