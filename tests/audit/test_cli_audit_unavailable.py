"""No signature without its record, on the command line and in the desktop "Ký tệp" too (docs/
security.md, threat table): a log that cannot be written (here: a folder at its path) refuses
sign-xml, sign-pdf, sign-cms and the desktop signer with AUDIT_UNAVAILABLE before the token is
opened, so before any prompt or PIN. When the log breaks during a run, the signed copy whose
record failed is deleted, nothing more is signed, and the report says which files were signed
(their records are in the log) and which were not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import cms_cmd, pdf_cmd, xml_cmd
from agent.cli.filesign_cmd import sign_plans
from agent.cli.main import main
from agent.errors import KysoError
from agent.files import StagedFile
from agent.ui.filesign import plan_files
from agent.ui.filesign_view import Options
from agent.ui.scripted import ScriptedPrompter
from tests.audit.conftest import break_log
from tests.conftest import cert_thumbprint, pin_asks
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import HOSO, PIN, TAX

NAMES = ("d01.xml", "d02.xml", "d03.xml")
PDF = make_pdf(1, text="HOP DONG")
CMS_CONTENT = "Thư gửi cơ quan BHXH\n".encode()


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "pin").write_text(PIN + "\n")
    for name in NAMES:
        (folder / name).write_bytes(HOSO)
    (folder / "hopdong.pdf").write_bytes(PDF)
    (folder / "thu.txt").write_bytes(CMS_CONTENT)
    return folder


def _who(demo: dict[str, Any], work: Path) -> list[str]:
    pin = str(work.parent / "pin")
    return ["--cert", cert_thumbprint(demo, "org"), "--pin-file", pin, "--json"]


def _records(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return {r.get("file"): r["result"] for r in map(json.loads, lines)}


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


COMMANDS = {
    "sign-xml": ["sign-xml", "d01.xml", "d02.xml", "--remove-unsigned"],
    "sign-pdf": ["sign-pdf", "hopdong.pdf", "--remove-unsigned"],
    "sign-cms": ["sign-cms", "thu.txt"],
}


def _argv(command: str, demo: dict[str, Any], work: Path) -> list[str]:
    name, *rest = COMMANDS[command]
    files = [str(work / a) if not a.startswith("-") else a for a in rest]
    return [name, *files, *_who(demo, work)]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unwritable_log_refuses_before_the_pin(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_path.mkdir(parents=True)  # a folder at the log's path
    asked = pin_asks(monkeypatch)
    before = _listing(work)
    assert main(_argv(command, demo, work)) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert report["error"]["details"]["path"] == str(log_path)
    assert asked == []  # the token was never opened: no PIN
    assert _listing(work) == before  # nothing signed, nothing removed
    assert (work / "d01.xml").read_bytes() == HOSO and (work / "hopdong.pdf").read_bytes() == PDF


def test_a_log_that_breaks_midway_stops_the_batch_and_says_what_was_signed(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """d01 signed and recorded; the log breaks while d02 is written: d02's copy is deleted
    (its record failed) and its original kept despite --remove-unsigned; d03 is not signed."""
    real = xml_cmd.written_copy
    writes: list[str] = []
    kept: list[Path] = []

    def write_then_break(copy: StagedFile) -> StagedFile:
        done = real(copy)
        writes.append(copy.target.name)
        if len(writes) == 2:
            kept.append(break_log(log_path))
        return done

    monkeypatch.setattr(xml_cmd, "written_copy", write_then_break)
    asked = pin_asks(monkeypatch)
    files = [str(work / name) for name in NAMES]
    assert main(["sign-xml", *files, "--remove-unsigned", *_who(demo, work)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["signed"], report["failed"]) == (False, 1, 2)
    results = {Path(r["file"]).name: r for r in report["results"]}
    assert results["d01.xml"]["ok"] and results["d01.xml"]["removed_unsigned"]
    second = results["d02.xml"]["error"]
    assert second["code"] == "AUDIT_UNAVAILABLE"
    assert second["details"]["output_removed"] is True
    assert Path(second["details"]["output"]).name == "d02_signed.xml"
    assert results["d03.xml"]["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert writes == ["d01_signed.xml", "d02_signed.xml"]  # d03 never reached the token
    assert _listing(work) == ["d01_signed.xml", "d02.xml", "d03.xml", "hopdong.pdf", "thu.txt"]
    assert (work / "d02.xml").read_bytes() == HOSO
    assert _records(kept[0]) == {"d01.xml": "OK"}  # the signed file that is left: recorded
    assert len(asked) == 1  # one login for the batch


@pytest.mark.parametrize("command", ["sign-pdf", "sign-cms"])
def test_a_record_that_fails_after_the_write_deletes_the_signed_copy(
    command: str,
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check before the PIN passed; the log breaks as the copy is written: no signed copy
    stays without its record, the original stays whole, and the error says both."""
    if command == "sign-pdf":
        real_pdf = pdf_cmd.write_signed_pdf

        async def pdf_then_break(*args: Any, **kw: Any) -> Any:
            result = await real_pdf(*args, **kw)
            break_log(log_path)
            return result

        monkeypatch.setattr(pdf_cmd, "write_signed_pdf", pdf_then_break)
        output = work / "hopdong_signed.pdf"
    else:
        real_cms = cms_cmd._write

        def cms_then_break(*args: Any, **kw: Any) -> StagedFile:
            copy = real_cms(*args, **kw)
            break_log(log_path)
            return copy

        monkeypatch.setattr(cms_cmd, "_write", cms_then_break)
        output = work / "thu.txt.p7s"
    assert main(_argv(command, demo, work)) == 2
    report = json.loads(capsys.readouterr().out)
    error = report["error"]
    assert error["code"] == "AUDIT_UNAVAILABLE"
    assert error["details"]["output"] == str(output) and error["details"]["output_removed"]
    assert not output.exists()
    assert (work / "hopdong.pdf").read_bytes() == PDF  # --remove-unsigned removed nothing
    assert (work / "thu.txt").read_bytes() == CMS_CONTENT


def _answers(tmp_path: Path, demo: dict[str, Any]) -> Path:
    path = tmp_path / "answers.json"
    answers = {"consent": "allow", "pin": PIN, "certificate": cert_thumbprint(demo, "org")}
    path.write_text(json.dumps(answers))
    return path


async def test_the_desktop_signer_refuses_before_any_prompt(
    demo: dict[str, Any], work: Path, log_path: Path, tmp_path: Path
) -> None:
    log_path.mkdir(parents=True)
    prompter = ScriptedPrompter(_answers(tmp_path, demo))
    plans = plan_files([work / "d01.xml", work / "hopdong.pdf"])
    with pytest.raises(KysoError) as caught:
        await sign_plans(plans, Options(confirmed=True, remove_unsigned=True), prompter)
    assert caught.value.code == "AUDIT_UNAVAILABLE"
    assert prompter.prompts == []  # no certificate picker, no consent, no PIN
    assert not (work / "d01_signed.xml").exists() and not (work / "hopdong_signed.pdf").exists()


async def test_the_desktop_signer_stops_when_the_log_breaks_midway(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dossier signed, then the log breaks as the PDF is written: the PDF's copy is deleted
    and its original kept (the removal waits for the record), the last dossier not signed."""
    (work / "to-khai.xml").write_bytes(TAX)
    real = pdf_cmd.write_signed_pdf
    kept: list[Path] = []

    async def pdf_then_break(*args: Any, **kw: Any) -> Any:
        result = await real(*args, **kw)
        kept.append(break_log(log_path))
        return result

    monkeypatch.setattr(pdf_cmd, "write_signed_pdf", pdf_then_break)
    prompter = ScriptedPrompter(_answers(tmp_path, demo))
    plans = plan_files([work / "d01.xml", work / "hopdong.pdf", work / "to-khai.xml"])
    options = Options(confirmed=True, remove_unsigned=True)
    results = await sign_plans(plans, options, prompter)
    by_name = {Path(r["file"]).name: r for r in results}
    assert by_name["d01.xml"]["ok"] and by_name["d01.xml"]["removed_unsigned"]
    assert by_name["hopdong.pdf"]["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert by_name["hopdong.pdf"]["error"]["details"]["output_removed"] is True
    assert by_name["to-khai.xml"]["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert (work / "hopdong.pdf").read_bytes() == PDF and (work / "to-khai.xml").read_bytes() == TAX
    assert not (work / "hopdong_signed.pdf").exists() and not (work / "to-khai_signed.xml").exists()
    assert (work / "d01_signed.xml").exists() and not (work / "d01.xml").exists()
    assert _records(kept[0]) == {"d01.xml": "OK"}
