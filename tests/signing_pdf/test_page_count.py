"""The consent's page count is what every viewer shows: a page tree whose /Count says another
number than the pages it holds is refused (poppler and pdf.js show /Count pages, pypdf and
others every page, so the consent said "1 page" of a file some viewers open on 3)."""

from __future__ import annotations

import pytest

from agent.errors import KysoError
from agent.signing.pdf import inspect_pdf

from .test_malformed_pdfs import PAGE, _stream, raw_pdf

THREE = {
    3: PAGE % b"",
    5: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    6: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    4: _stream(b"BT /F1 14 Tf 72 760 Td (Trang) Tj ET"),
}


@pytest.mark.parametrize(("count", "kids"), [(1, b"3 0 R 5 0 R 6 0 R"), (3, b"3 0 R")])
def test_a_count_that_is_not_the_pages_held_is_refused(count: int, kids: bytes) -> None:
    pages = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)
    with pytest.raises(KysoError) as refused:
        inspect_pdf(raw_pdf({**THREE, 2: pages}))
    assert refused.value.code == "PDF_MALFORMED"
    assert "/Count" in refused.value.details["detail"]


def test_a_true_count_is_read() -> None:
    pages = b"<< /Type /Pages /Kids [3 0 R 5 0 R 6 0 R] /Count 3 >>"
    assert inspect_pdf(raw_pdf({**THREE, 2: pages})).pages == 3


@pytest.mark.parametrize("bound", ["pages", "time"])
def test_a_tree_too_large_to_count_is_refused(monkeypatch: pytest.MonkeyPatch, bound: str) -> None:
    """Fail closed: a /Count nobody could check (past the walk's page or time bound) is not
    shown as a fact. The bounds are lowered here; a real case has 20,000 leaves."""
    from agent.signing.pdf import fields

    if bound == "pages":
        monkeypatch.setattr(fields, "MAX_PAGES", 2)
    else:
        monkeypatch.setattr(fields, "LEAF_SECONDS", -1.0)
    pages = b"<< /Type /Pages /Kids [3 0 R 5 0 R 6 0 R] /Count 1 >>"
    with pytest.raises(KysoError) as refused:
        inspect_pdf(raw_pdf({**THREE, 2: pages}))
    assert refused.value.code == "PDF_MALFORMED"
    assert "too large to check" in refused.value.details["detail"]
