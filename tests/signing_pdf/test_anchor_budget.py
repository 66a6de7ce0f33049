"""Text anchors on hostile files: the search has one budget (time and content operators) for
the whole file, and a page whose MediaBox is odd is read as the consent's frame reads it.

A 10 KB file whose 100 pages share one compressed stream of 100,000 text operators took
minutes of CPU in an uncancellable thread, before any prompt (docs/security.md).
"""

from __future__ import annotations

import io
import zlib

import pytest

from agent.errors import KysoError
from agent.server.commands.payloads import _inspect_pdf
from agent.signing.pdf import PdfSignOptions, inspect_pdf
from agent.signing.pdf import anchor as anchor_module


def _pdf(pages: list[bytes], contents: list[bytes], tree_extra: bytes = b"") -> bytes:
    """A PDF whose page i is ``pages[i]`` (its dictionary's extra entries, naming content
    objects 4.. as ``contents`` are numbered), with font F1 on the page tree."""
    first_page = 4 + len(contents)
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(len(pages)))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d %s /Resources << /Font << /F1 3 0 R >> >> >>"
        % (kids, len(pages), tree_extra),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for data in contents:
        packed = zlib.compress(data)
        objs.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + b"\nendstream"
        )
    objs += [b"<< /Type /Page /Parent 2 0 R " + extra + b" >>" for extra in pages]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    )
    return out.getvalue()


def _shared_stream_pdf(pages: int, operators: int) -> bytes:
    """The attack's shape: every page draws the same stream of many tiny text runs."""
    stream = b"BT /F1 1 Tf " + b"(a) Tj " * operators + b"ET"
    return _pdf([b"/MediaBox [0 0 612 792] /Contents 4 0 R"] * pages, [stream])


def _refused(document: bytes, code: str) -> KysoError:
    with pytest.raises(KysoError) as caught:
        _inspect_pdf(document, PdfSignOptions(anchor="ZZZ"))
    assert caught.value.code == code
    return caught.value


def test_a_file_too_complex_to_search_is_refused_by_the_operator_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(anchor_module, "MAX_ANCHOR_OPERATORS", 2_000)
    error = _refused(_shared_stream_pdf(pages=10, operators=1_000), "PDF_ANCHOR_NOT_FOUND")
    assert "too complex" in error.details["detail"]
    assert error.details["anchor"] == "ZZZ"


def test_a_file_too_complex_to_search_is_refused_by_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(anchor_module, "ANCHOR_SEARCH_SECONDS", -1.0)  # already past
    error = _refused(_shared_stream_pdf(pages=3, operators=1_000), "PDF_ANCHOR_NOT_FOUND")
    assert "too complex" in error.details["detail"]


def test_one_huge_page_is_refused_by_the_content_budget_before_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(anchor_module, "MAX_ANCHOR_CONTENT_BYTES", 5_000)
    error = _refused(_shared_stream_pdf(pages=1, operators=1_000), "PDF_ANCHOR_NOT_FOUND")
    assert "too complex" in error.details["detail"]


def test_a_file_within_the_budget_is_searched_to_its_end() -> None:
    """Under the budget, a missing anchor is only not found (no 'too complex' detail)."""
    error = _refused(_shared_stream_pdf(pages=3, operators=1_000), "PDF_ANCHOR_NOT_FOUND")
    assert "detail" not in error.details


ANCHOR_PAGE = b"BT /F1 12 Tf 72 700 Td (SIGNHERE) Tj ET"


@pytest.mark.parametrize(
    "media",
    [b"", b"/MediaBox 5", b"/MediaBox [0 0 612]", b"/MediaBox [0 0 (a) 792]"],
    ids=["missing", "integer", "three-values", "a-string"],
)
def test_an_odd_mediabox_is_read_as_the_consents_frame_reads_it(media: bytes) -> None:
    """Not an internal error: with and without an anchor, the page is the same default A4."""
    document = _pdf([media + b" /Contents 4 0 R"], [ANCHOR_PAGE])
    options, _facts = _inspect_pdf(document, PdfSignOptions(anchor="SIGNHERE"))
    assert options.placement is not None
    frame = inspect_pdf(document, size_of_pages=(1,)).page_frames[1].box
    hit = anchor_module.find_text(document, "SIGNHERE")
    assert hit is not None
    left, bottom = hit.page_origin
    assert (left, bottom, left + hit.page_size[0], bottom + hit.page_size[1]) == frame


def test_an_odd_mediabox_inherited_from_the_page_tree() -> None:
    document = _pdf([b"/Contents 4 0 R"], [ANCHOR_PAGE], tree_extra=b"/MediaBox [1 2]")
    options, _facts = _inspect_pdf(document, PdfSignOptions(anchor="SIGNHERE"))
    assert options.placement is not None
