"""The consent's page count is what every viewer shows: a page tree whose /Count says another
number than the pages it holds is refused (poppler and pdf.js show /Count pages, pypdf and
others every page, so the consent said "1 page" of a file some viewers open on 3)."""

from __future__ import annotations

import io

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


@pytest.mark.parametrize("bound", ["pages", "entries"])
def test_a_tree_too_large_to_count_is_refused_as_such(
    monkeypatch: pytest.MonkeyPatch, bound: str
) -> None:
    """Fail closed: a /Count nobody could check (past the walk's page or entry bound) is not
    shown as a fact, and the refusal says why (too many pages), not "damaged". The bounds are
    lowered here; a real case has 10,000 pages."""
    from agent.signing.pdf import fields

    monkeypatch.setattr(fields, "MAX_PAGES" if bound == "pages" else "MAX_PAGE_TREE_ENTRIES", 2)
    pages = b"<< /Type /Pages /Kids [3 0 R 5 0 R 6 0 R] /Count 3 >>"
    with pytest.raises(KysoError) as refused:
        inspect_pdf(raw_pdf({**THREE, 2: pages}))
    if bound == "pages":
        assert refused.value.code == "PDF_TOO_MANY_PAGES"
    else:  # entries far beyond the pages: repeats, an unusual tree, not "too many pages"
        assert refused.value.code == "PDF_MALFORMED"
        assert "/Kids entries" in refused.value.details["detail"]


def objstm_pdf(dummies: int, leaves: int) -> bytes:
    """Review 37's hostile shape: the page tree at the end of one object stream that first
    holds ``dummies`` small objects; pyHanko scans the stream's header from its start for
    every object it looks up there, so each page costs O(dummies) and the walk, bounded by
    its page and entry counts, is still quadratic (282 KB: minutes)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils import writer as pdf_writer
    from pyhanko.pdf_utils.generic import pdf_name

    out = pdf_writer.PdfFileWriter(stream_xrefs=True, init_page_tree=False)
    stream = out.prepare_object_stream(compress=True)
    for number in range(dummies):
        out.add_object(generic.NumberObject(number), obj_stream=stream)
    pages_ref = out.allocate_placeholder()
    kids = generic.ArrayObject()
    for _ in range(leaves):
        page = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Page"),
                pdf_name("/Parent"): pages_ref,
                pdf_name("/MediaBox"): generic.ArrayObject(
                    map(generic.NumberObject, (0, 0, 10, 10))
                ),
            }
        )
        kids.append(out.add_object(page, obj_stream=stream))
    tree = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Pages"),
            pdf_name("/Kids"): kids,
            pdf_name("/Count"): generic.NumberObject(leaves),
        }
    )
    out.add_object(tree, idnum=pages_ref.idnum)
    out.root[pdf_name("/Pages")] = pages_ref
    buffer = io.BytesIO()
    out.write(buffer)
    return buffer.getvalue()


def test_a_page_tree_that_is_slow_to_read_is_refused_within_its_cpu_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The work bounds count pages and entries, not the cost of each lookup: the CPU-time
    safety net ends the walk (lowered here from 20 s so the test is quick)."""
    from agent.signing.pdf import fields

    monkeypatch.setattr(fields, "PAGE_TREE_CPU_SECONDS", 0.2)
    with pytest.raises(KysoError) as refused:
        inspect_pdf(objstm_pdf(dummies=20_000, leaves=3_000))
    assert refused.value.code == "PDF_MALFORMED"
    assert "took over 0.2 s" in refused.value.details["detail"]


def flat_pdf(pages: int) -> bytes:
    """``pages`` A4 pages in one /Pages node, as scanners write them (interop round 37)."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
    objects = {3: page, 4: _stream(b"BT /F1 14 Tf 72 760 Td (Trang) Tj ET")}
    kids = [b"3 0 R"]
    for number in range(5, 5 + pages - 1):
        objects[number] = page
        kids.append(b"%d 0 R" % number)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), pages)
    return raw_pdf(objects)


def test_the_page_count_does_not_depend_on_how_busy_the_machine_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3,000 pages on a machine where every clock reading is a second later than the last (a
    very busy machine): the walk is bounded by work, so the count is still 3,000. It used to
    stop after 5 s of wall-clock time and call the file "too large" (interop round 37: an
    8,000-page scan was refused every time, a 3,000-page one whenever the machine was busy)."""
    import time

    from pyhanko.pdf_utils.reader import PdfFileReader

    from agent.signing.pdf import fields

    reader = PdfFileReader(io.BytesIO(flat_pdf(3000)))
    clock = [time.monotonic()]

    def busy() -> float:
        clock[0] += 1.0
        return clock[0]

    monkeypatch.setattr(time, "monotonic", busy)
    assert fields.page_leaves(reader) == 3000


def test_signing_and_verify_pdf_read_the_same_number_of_pages() -> None:
    """verify-pdf's survey of what was drawn after a signature gives up past its page limit,
    and then holds every earlier signature NOT VALID: Kyso must not sign a file longer than
    that (it signed up to 20,000 pages while the survey stopped at 10,000)."""
    from agent.signing.pdf import fields, widgets

    assert widgets.MAX_PAGES == fields.MAX_PAGES
