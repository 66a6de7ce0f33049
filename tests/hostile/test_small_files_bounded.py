"""Small hostile files that kept ``verify-pdf`` / ``verify-cms`` / the check before a PDF's
consent busy for minutes (red team 32). Bad input gets a clear error with a stable code, never
a hang: each case must end within DEADLINE seconds (a hang guard, far above the second or two
they take) with exit 0 or 2 and one JSON object on stdout. Real CLI, child processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.builders import loop_chain_cms, signed_pdf, with_huge_xref_stream
from tests.hostile.conftest import run_cli

DEADLINE = 30.0  # generous for a 2-core shared machine; a sound refusal takes ~2 s


def _finished_with_json(outcome, codes=(0, 2)):
    assert outcome.code is not None, f"still running after {outcome.seconds:.0f} s (a hang)"
    assert outcome.code in codes, outcome.stderr[-2000:]
    return outcome.json()


@pytest.mark.timeout(DEADLINE + 30)
def test_verify_pdf_xref_stream_of_a_million_entries_is_bounded(tmp_path: Path, ca) -> None:
    """A 13 KB update after a valid signature: a Flate-packed cross-reference stream listing
    1,000,000 objects (all at one offset). pyHanko parses every entry in Python on each of the
    ~5 openings of the file (plus pypdf's for the stamp check): measured 99 s, 676 MB RSS,
    and the verdict was still "valid"."""
    cert, key = ca
    pdf = tmp_path / "xref.pdf"
    pdf.write_bytes(with_huge_xref_stream(signed_pdf(cert, key), 1_000_000))
    assert pdf.stat().st_size < 20_000
    outcome = run_cli(
        "verify-pdf",
        "--json",
        "--trust",
        str(cert),
        "--no-revocation",
        str(pdf),
        deadline=DEADLINE,
        home=tmp_path,
    )
    report = _finished_with_json(outcome, codes=(2,))
    assert report["error"]["code"] == "PDF_MALFORMED", report
    assert "exceeds the limit" in report["error"]["details"]["detail"], report


@pytest.mark.timeout(DEADLINE + 30)
def test_verify_cms_chain_permutations_are_bounded(tmp_path: Path, ca) -> None:
    """A 3 KB detached CMS carrying 9 certificates all named (subject and issuer) "Loop CA":
    pyhanko-certvalidator's path builder tries every ordering (9! ≈ 363k chains, exhaustive
    DFS) before CERT_UNTRUSTED. Measured: 8 certificates 21 s, 9 278 s, 10 about
    half an hour (x10 each)."""
    cert, _ = ca
    data = tmp_path / "hello.txt"
    data.write_bytes(b"hello\n")
    sig = tmp_path / "hello.p7s"
    sig.write_bytes(loop_chain_cms(b"hello\n", 9))
    outcome = run_cli(
        "verify-cms",
        "--json",
        "--trust",
        str(cert),
        "--no-revocation",
        "--data",
        str(data),
        str(sig),
        deadline=DEADLINE,
        home=tmp_path,
    )
    report = _finished_with_json(outcome, codes=(2,))
    assert report["error"]["code"] == "CERT_UNTRUSTED"


@pytest.mark.timeout(DEADLINE + 30)
def test_inspect_pdf_before_consent_xref_stream_is_bounded(tmp_path: Path) -> None:
    """The same 10 KB file, unsigned, given to ``sign-pdf`` or to the agent's ``sign.pdf``
    (a paired page): ``inspect_pdf`` (run before the consent, in a worker thread of the agent)
    took 47 s of CPU holding the GIL, and then accepted the file ("1 page")."""
    import subprocess
    import sys

    from tests.hostile.conftest import _cap

    cert_dir = tmp_path / "ca"
    cert_dir.mkdir()
    script = (
        "import sys\n"
        "from tests.hostile.builders import with_huge_xref_stream\n"
        "from agent.errors import KysoError\n"
        "from agent.signing.pdf import inspect_pdf\n"
        "from pyhanko.pdf_utils.writer import PdfFileWriter\n"
        "from pyhanko.pdf_utils import generic\n"
        "import io\n"
        "w = PdfFileWriter()\n"
        "w.insert_page(generic.DictionaryObject({generic.pdf_name('/Type'): generic.pdf_name('/Page'),"
        " generic.pdf_name('/MediaBox'): generic.ArrayObject([generic.NumberObject(v) for v in (0,0,595,842)])}))\n"
        "out = io.BytesIO(); w.write(out)\n"
        "doc = with_huge_xref_stream(out.getvalue(), 1_000_000)\n"
        "assert len(doc) < 20_000\n"
        "try:\n"
        "    inspect_pdf(doc)\n"
        "except KysoError as exc:\n"
        "    print(exc.code)\n"
        "else:\n"
        "    print('accepted')\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            preexec_fn=_cap,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"inspect_pdf still running after {DEADLINE:.0f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "PDF_MALFORMED"


def test_many_small_xref_streams_share_one_limit() -> None:
    """Fifty cross-reference streams chained by /Prev, each under any per-stream limit, listed
    two million entries in 30 KB: 59 s before the consent (review 36). One budget for all."""
    from agent.errors import KysoError
    from agent.signing.pdf import inspect_pdf
    from tests.signing_pdf.conftest import make_pdf

    document = make_pdf(1)
    for _ in range(50):
        document = with_huge_xref_stream(document, 40_000)
    assert len(document) < 40_000
    with pytest.raises(KysoError) as caught:
        inspect_pdf(document)
    assert caught.value.code == "PDF_MALFORMED"
    assert "exceeds the limit" in caught.value.details["detail"]
