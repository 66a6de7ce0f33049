"""Verification that cannot finish is stopped at a deadline: a 21 KB signed file whose objects
point at each other through one shared array keeps pyHanko's difference analysis walking
every path for hours (nine such objects took 212 s here, each one more multiplies it).
``verify-pdf`` and the portal verify in a child process and end it: PDF_VERIFY_TIMEOUT, exit 2,
no verdict, no process left behind. Real token signatures, the real CLI, the real portal."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from agent.errors import KysoError
from agent.signing.pdf import PdfSignOptions, sign_pdf
from agent.signing.pdf.bounded import verify_pdf_bounded
from agent.signing.pdf.verify import verify_pdf
from agent.signing.trust import TrustStore
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf
from tests.signing_pdf.form_updates import update

# Thirty objects: the walk would outlast the universe, not only the test.
TANGLED = 30


def tangle(objects: int) -> Any:
    """An update adding ``objects`` dictionaries that each reach all of them."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        refs = [writer.add_object(generic.DictionaryObject()) for _ in range(objects)]
        every = generic.ArrayObject(refs)  # one direct array, reachable from each of them
        for ref in refs:
            ref.get_object()[pdf_name("/Next")] = generic.DictionaryObject(
                {pdf_name("/All"): every}
            )
        writer.root[pdf_name("/Tangle")] = every
        writer.update_root()

    return change


async def _two_signatures(token_service: Any, demo: dict[str, Any], objects: int) -> bytes:
    # The second signature makes a revision after the first: pyHanko analyses what changed.
    document = update(make_pdf(1), tangle(objects))
    for name in ("org", "personal"):
        async with token_signer(token_service, demo, name) as signer:
            document = (await sign_pdf(document, signer, PdfSignOptions())).document
    return document


@pytest.fixture
async def tangled(token_service: Any, demo: dict[str, Any]) -> bytes:
    return await _two_signatures(token_service, demo, TANGLED)


def test_a_walk_that_cannot_finish_is_stopped_and_leaves_no_process(
    tangled: bytes, trust: TrustStore
) -> None:
    with pytest.raises(KysoError) as caught:
        verify_pdf_bounded(tangled, trust, seconds=3)
    assert caught.value.code == "PDF_VERIFY_TIMEOUT"
    assert caught.value.details == {"seconds": 3}
    assert "3 giây" in caught.value.message_vi and "--timeout" in caught.value.spec.action_en
    assert multiprocessing.active_children() == []


async def test_the_child_gives_the_same_verdicts_and_errors(
    token_service: Any, demo: dict[str, Any], trust: TrustStore
) -> None:
    small = await _two_signatures(token_service, demo, 3)  # a walk of a few paths
    assert verify_pdf_bounded(small, trust, seconds=60) == await verify_pdf(small, trust)
    with pytest.raises(KysoError) as caught:
        verify_pdf_bounded(make_pdf(1), trust, seconds=60)
    assert caught.value.code == "NOT_SIGNED"


def test_a_trust_store_crosses_to_a_spawned_child_whole(trust: TrustStore) -> None:
    # A process with threads (the portal) spawns its verifier: the store goes pickled. Parsed
    # asn1crypto certificates came back without their field map (TypeError in pyHanko).
    copy = pickle.loads(pickle.dumps(trust))
    assert [c.dump() for c in copy.anchors] == [c.dump() for c in trust.anchors]
    assert [c.dump() for c in copy.intermediates] == [c.dump() for c in trust.intermediates]
    assert [c.dump() for c in copy.crls] == [c.dump() for c in trust.crls]
    assert (copy.revocation_mode, copy.allow_sha1) == (trust.revocation_mode, trust.allow_sha1)
    assert copy.context(None).certificate_registry is not None


def test_verify_pdf_gives_up_at_its_timeout_with_exit_2(
    tangled: bytes, demo: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "roi.pdf"
    path.write_bytes(tangled)
    command = [sys.executable, "-m", "agent.cli.main", "verify-pdf", str(path)]
    command += ["--trust", demo["ca"]["chain"], "--crl", demo["ca"]["crl"], "--timeout", "2"]
    # The hang guard: without the deadline this runs for hours.
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "PDF_VERIFY_TIMEOUT" and error["details"] == {"seconds": 2}
    text = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert text.returncode == 2 and "PDF_VERIFY_TIMEOUT" in text.stdout + text.stderr


def test_the_timeout_must_be_a_number_of_seconds(tmp_path: Path) -> None:
    for wrong in ("0", "-5", "nan", "soon"):
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli.main", "verify-pdf", "x.pdf", "--timeout", wrong],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 2 and "--timeout" in done.stderr, (wrong, done.stderr)


async def test_the_analysis_stops_in_process_too(
    tangled: bytes, trust: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent inspects a file before its consent (are earlier signatures intact?) on a
    thread that cannot be stopped: pyHanko's walk itself looks at a budget. Past it, the
    earlier signatures count as changed and the consent says the check was incomplete."""
    from agent.signing.pdf import inspect_pdf, walkbudget
    from agent.signing.pdf.active import INCOMPLETE

    monkeypatch.setattr(walkbudget, "ANALYSIS_SECONDS", 1.0)
    facts = inspect_pdf(tangled)
    assert INCOMPLETE in facts.active_content
    # The first is followed by the second signature's revision, which was not compared in time.
    assert [s.changed_after for s in facts.signatures] == [True, False]
    with pytest.raises(KysoError) as caught:
        await verify_pdf(tangled, trust)
    assert caught.value.code == "PDF_VERIFY_TIMEOUT" and caught.value.details == {"seconds": 1}


def test_ctrl_c_ends_the_verification_at_once(
    tangled: bytes, demo: dict[str, Any], tmp_path: Path
) -> None:
    """verify-pdf waits for its child on the event loop: Ctrl-C cancels the wait, the child
    is killed, exit 130 (review 36: a blocking wait swallowed the first Ctrl-C until the
    deadline)."""
    import signal

    path = tmp_path / "roi.pdf"
    path.write_bytes(tangled)
    command = [sys.executable, "-m", "agent.cli.main", "verify-pdf", str(path)]
    command += ["--trust", demo["ca"]["chain"], "--timeout", "600"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        for _ in range(600):  # until its verifying child runs (a hang guard, not a timing)
            if process.poll() is not None or children.read_text().split():
                break
            time.sleep(0.1)
        child = int(children.read_text().split()[0])
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)  # without the fix: the 600 s deadline
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 130, process.stderr.read() if process.stderr else ""
    assert not Path(f"/proc/{child}").exists()  # killed and reaped
