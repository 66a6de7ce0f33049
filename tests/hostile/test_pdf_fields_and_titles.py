"""Small PDFs whose form fields or title the check before a consent must survive (red team 43).

- Fields sharing their /Kids (a DAG, not a loop: pyHanko's loop check passes): 2**depth paths,
  walked by pyHanko's ``enumerate_sig_fields`` in inspect_pdf. Depth 20 took 31 s, depth 40
  never ended, in a worker thread the agent cannot stop. Now PDF_MALFORMED at a budget.
- A /Title that is not a text string (a dictionary, a stream, an array) or UTF-16 with a lone
  surrogate was shown in the consent as Python's repr ("{'/Kyso': 'checked and safe'}",
  "b'\\xfe\\xff…'"). Now "" for a non-text title, U+FFFD for a bad unit.
Each runs in a child process killed at a deadline: a hang fails the test, never the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.builders import one_page_pdf, pdf_stream
from tests.hostile.conftest import run_python

DEADLINE = 30.0
INSPECT = """
import json, sys
from agent.errors import KysoError
from agent.signing.pdf.inspect import inspect_pdf
try:
    facts = inspect_pdf(open(sys.argv[1], "rb").read())
    print(json.dumps({"ok": True, "title": facts.title}))
except KysoError as exc:
    print(json.dumps({"code": exc.code, "detail": str(exc.details.get("detail", ""))}))
"""


def _inspect(path: Path) -> dict:
    outcome = run_python(INSPECT, str(path), deadline=DEADLINE)
    assert outcome.code is not None, f"inspect_pdf still running after {DEADLINE:.0f} s"
    assert outcome.code == 0, outcome.stderr[-2000:]
    return json.loads(outcome.stdout.strip().splitlines()[-1])


def _fields_dag(depth: int) -> bytes:
    """Field n has /Kids [n+1 n+1]: 2**depth paths, no loop."""
    extra = {
        10 + i: b"<< /T (n%d) /Kids [%d 0 R %d 0 R] >>" % (i, 11 + i, 11 + i) for i in range(depth)
    }
    extra[10 + depth] = b"<< /T (leaf) /FT /Tx /V (x) >>"
    return one_page_pdf(catalog_extra=b" /AcroForm << /Fields [10 0 R] >>", extra=extra)


def test_fields_sharing_their_kids_are_refused_not_walked_for_ever(tmp_path: Path) -> None:
    path = tmp_path / "dag.pdf"
    path.write_bytes(_fields_dag(40))
    assert path.stat().st_size < 4000
    answer = _inspect(path)
    assert answer.get("code") == "PDF_MALFORMED", answer
    assert "form field" in answer["detail"]


def test_a_form_listing_a_field_twice_still_signs(tmp_path: Path) -> None:
    """A producer's slip (a kid listed beside its parent) is no DAG bomb: paths stay few."""
    extra = {
        10: b"<< /T (parent) /Kids [11 0 R] >>",
        11: b"<< /T (child) /FT /Tx /V (x) /Parent 10 0 R >>",
    }
    path = tmp_path / "twice.pdf"
    path.write_bytes(
        one_page_pdf(catalog_extra=b" /AcroForm << /Fields [10 0 R 11 0 R] >>", extra=extra)
    )
    assert _inspect(path).get("ok") is True


TITLES = {
    "lone_surrogate": (b"<< /Title <FEFFD800004100DC00> >>", {}, "\ufffdA\u00dc\ufffd"),
    "odd_utf16": (b"<< /Title <FEFF00410042FF> >>", {}, "AB\ufffd"),
    "stream": (b"<< /Title 6 0 R >>", {6: pdf_stream(b"x" * 100)}, ""),
    "dictionary": (b"<< /Title << /Kyso (checked and safe) >> >>", {}, ""),
    "array": (b"<< /Title [(a) 6 0 R] >>", {6: b"(b)"}, ""),
    "plain": (b"<< /Title (Hop dong lao dong) >>", {}, "Hop dong lao dong"),
}


@pytest.mark.parametrize("kind", sorted(TITLES))
def test_the_title_is_text_as_viewers_show_it_never_a_python_repr(
    tmp_path: Path, kind: str
) -> None:
    info, extra, shown = TITLES[kind]
    path = tmp_path / "t.pdf"
    path.write_bytes(one_page_pdf(info=info, extra=extra))
    answer = _inspect(path)
    assert answer.get("ok") is True, answer
    assert answer["title"] == shown


def test_verify_pdf_refuses_the_same_fields_at_once(tmp_path: Path) -> None:
    """verify-pdf stopped at its deadline (PDF_VERIFY_TIMEOUT) with its thread still walking."""
    path = tmp_path / "dag.pdf"
    path.write_bytes(_fields_dag(40))
    script = (
        "import asyncio, sys\n"
        "from agent.errors import KysoError\n"
        "from agent.signing.pdf.verify import verify_pdf\n"
        "try:\n"
        "    asyncio.run(verify_pdf(open(sys.argv[1], 'rb').read(), None))\n"
        "except KysoError as exc:\n"
        "    print(exc.code)\n"
    )
    outcome = run_python(script, str(path), deadline=DEADLINE)
    assert outcome.code is not None, f"verify_pdf still running after {DEADLINE:.0f} s"
    assert outcome.stdout.strip() == "PDF_MALFORMED", outcome.stderr[-2000:]


def _deep_form(depth: int, width: int) -> bytes:
    """A chain of ``depth`` fields, the last holding ``width`` kids (review 42)."""
    extra = {10 + i: b"<< /T (n%d) /Kids [%d 0 R] >>" % (i, 11 + i) for i in range(depth)}
    leaf = 10 + depth + 1
    extra[10 + depth] = b"<< /T (bottom) /Kids [" + b"%d 0 R " % leaf * width + b"] >>"
    extra[leaf] = b"<< /T (leaf) >>"
    return one_page_pdf(catalog_extra=b" /AcroForm << /Fields [10 0 R] >>", extra=extra)


@pytest.mark.parametrize(("depth", "width"), [(900, 10_000), (3, 25_000)])
def test_pyhankos_work_not_only_the_entries_is_bounded(
    tmp_path: Path, depth: int, width: int
) -> None:
    """Review 42: 10,900 entries (under the entry budget) 900 levels deep took pyHanko 27 s
    before the consent: its cost per entry grows with the depth."""
    path = tmp_path / "deep.pdf"
    path.write_bytes(_deep_form(depth, width))
    answer = _inspect(path)
    assert answer.get("code") == "PDF_MALFORMED", answer
    assert "form field" in answer["detail"]


def test_an_ordinary_nested_form_still_signs(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    path.write_bytes(_deep_form(4, 2_000))
    assert _inspect(path).get("ok") is True
