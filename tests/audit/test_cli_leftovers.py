"""Nothing lost, nothing half-done, after the signed copy was written: a copy that failed its
read-back (the bytes on disk are not what was signed, a signature in it does not verify) or
whose read-back never ended (Ctrl-C) is never left under the name of a signed file. It is set
aside as ``<name>.unverified`` (never over a file), named in the report, and the original
stays whole even with --remove-unsigned. (A copy whose audit record failed is deleted:
tests/audit/test_cli_audit_unavailable.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent.signing.pdf.readback
from agent.cli import pdf_cmd, xml_cmd
from agent.cli.filesign_cmd import sign_plans
from agent.cli.inputs import set_aside
from agent.cli.main import main
from agent.files import StagedFile
from agent.ui.filesign import plan_files
from agent.ui.filesign_view import Options
from agent.ui.scripted import ScriptedPrompter
from tests.conftest import cert_thumbprint
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import HOSO, PIN

PDF = make_pdf(1, text="HOP DONG")


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "pin").write_text(PIN + "\n")
    (folder / "hopdong.pdf").write_bytes(PDF)
    for name in ("a.xml", "b.xml"):
        (folder / name).write_bytes(HOSO)
    return folder


def _who(demo: dict[str, Any], work: Path) -> list[str]:
    pin = str(work.parent / "pin")
    return ["--cert", cert_thumbprint(demo, "org"), "--pin-file", pin, "--json"]


def _corrupt(path: Path) -> None:
    """What a sync client or a failing disk does to a file after it was written: one byte of
    the original's part of the signed file changed."""
    data = bytearray(path.read_bytes())
    # Inside the original's bytes (they come first in the signed file), wherever the
    # signature's own length puts the rest.
    data[len(PDF) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _corrupt_pdf_after_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pdf_cmd.write_signed_pdf

    async def write_then_corrupt(source: Any, out: Path, *args: Any, **kw: Any) -> Any:
        result, copy = await real(source, out, *args, **kw)
        _corrupt(copy.current)  # where the copy is until it is recorded and read back
        return result, copy

    monkeypatch.setattr(pdf_cmd, "write_signed_pdf", write_then_corrupt)


def _records(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(r["file"], r["result"]) for r in map(json.loads, lines)]


def test_sign_pdf_sets_a_copy_that_fails_its_read_back_aside(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _corrupt_pdf_after_write(monkeypatch)
    taken = work / "hopdong_signed.pdf.unverified"
    taken.write_bytes(b"an earlier one, kept")  # the first name is taken: never over it
    argv = ["sign-pdf", str(work / "hopdong.pdf"), "--remove-unsigned", *_who(demo, work)]
    assert main(argv) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    aside = work / "hopdong_signed.pdf.unverified.2"
    assert error["code"] == "READBACK_FAILED"
    assert error["details"]["path"] == str(aside) == error["details"]["set_aside"]
    assert error["details"]["output"] == str(work / "hopdong_signed.pdf")
    assert str(aside) in error["message_en"]  # "The signed file … failed its read-back check"
    assert not (work / "hopdong_signed.pdf").exists()  # no unchecked copy under its name
    assert aside.exists() and taken.read_bytes() == b"an earlier one, kept"
    assert (work / "hopdong.pdf").read_bytes() == PDF  # the original, whole
    assert _records(log_path) == [("hopdong.pdf", "OK")]  # the key did sign: recorded


def test_sign_pdf_interrupted_before_its_read_back_ends_sets_the_copy_aside(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt  # a second Ctrl-C, during the read-back

    monkeypatch.setattr(agent.signing.pdf.readback, "check_signed_pdf", interrupted)
    argv = ["sign-pdf", str(work / "hopdong.pdf"), "--remove-unsigned", *_who(demo, work)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    aside = work / "hopdong_signed.pdf.unverified"
    assert not (work / "hopdong_signed.pdf").exists() and aside.exists()
    assert f"so it was renamed {aside}; do not submit it" in err
    assert (work / "hopdong.pdf").read_bytes() == PDF
    assert _records(log_path) == [("hopdong.pdf", "OK")]


def test_sign_xml_sets_a_copy_that_fails_its_read_back_aside_and_goes_on(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """a.xml's copy is changed on disk after its write: its signature no longer verifies; it
    is set aside and a.xml kept. b.xml is signed and its original removed as asked."""
    real = xml_cmd.written_copy

    def write_then_change(copy: StagedFile) -> StagedFile:
        done = real(copy)
        if copy.target.name == "a_signed.xml":
            data = copy.current.read_bytes()
            copy.current.write_bytes(data.replace(b"<MaThuTuc>600<", b"<MaThuTuc>612<"))
        return done

    monkeypatch.setattr(xml_cmd, "written_copy", write_then_change)
    files = [str(work / "a.xml"), str(work / "b.xml")]
    assert main(["sign-xml", *files, "--remove-unsigned", *_who(demo, work)]) == 1
    results = {Path(r["file"]).name: r for r in json.loads(capsys.readouterr().out)["results"]}
    error = results["a.xml"]["error"]
    aside = work / "a_signed.xml.unverified"
    assert error["code"] == "READBACK_FAILED" and error["details"]["path"] == str(aside)
    assert results["b.xml"]["ok"] and results["b.xml"]["removed_unsigned"]
    assert sorted(p.name for p in work.iterdir()) == [
        "a.xml",
        "a_signed.xml.unverified",
        "b_signed.xml",
        "hopdong.pdf",
    ]
    assert (work / "a.xml").read_bytes() == HOSO


async def test_the_desktop_signer_sets_a_pdf_that_fails_its_read_back_aside(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _corrupt_pdf_after_write(monkeypatch)
    answers = tmp_path / "answers.json"
    who = {"consent": "allow", "pin": PIN, "certificate": cert_thumbprint(demo, "org")}
    answers.write_text(json.dumps(who))
    plans = plan_files([work / "hopdong.pdf"])
    options = Options(confirmed=True, remove_unsigned=True)
    (result,) = await sign_plans(plans, options, ScriptedPrompter(answers))
    assert result["error"]["code"] == "READBACK_FAILED"
    assert result["error"]["details"]["path"] == str(work / "hopdong_signed.pdf.unverified")
    assert not (work / "hopdong_signed.pdf").exists()
    assert (work / "hopdong.pdf").read_bytes() == PDF
    # Recorded once, at the write (the key signed), before the read-back.
    assert _records(log_path) == [("hopdong.pdf", "OK")]


def test_set_aside_never_replaces_a_file(tmp_path: Path) -> None:
    copy = tmp_path / "x_signed.xml"
    for n in range(3):
        copy.write_bytes(b"copy %d" % n)
        assert set_aside(copy) == tmp_path / (
            "x_signed.xml.unverified" + ("" if n == 0 else f".{n + 1}")
        )
        assert not copy.exists()
    names = ["x_signed.xml.unverified", "x_signed.xml.unverified.2", "x_signed.xml.unverified.3"]
    assert [(tmp_path / n).read_bytes() for n in names] == [b"copy 0", b"copy 1", b"copy 2"]
