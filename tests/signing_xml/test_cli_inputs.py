"""Bad input gets a clear error BEFORE the PIN, never a hang or a traceback after it: a pipe, a
folder or a device given as a dossier, a malformed file or one without its container, and a
legal file name whose signed copy's name is too long for the disk (sign-xml, sign-pdf,
sign-cms and the desktop planner)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.files import atomic_write, name_too_long
from agent.ui.filesign import plan_files
from tests.conftest import cert_thumbprint, pin_asks

from .helpers import HOSO, PIN

LONG = "h" * 248 + ".xml"  # a legal name (252 bytes); "_signed" makes it 259: over NAME_MAX


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "a.xml").write_bytes(HOSO)
    (tmp_path / "z.xml").write_bytes(HOSO)
    return tmp_path


def _sign_xml(demo: dict[str, Any], work: Path, capsys: Any, *files: Path | str, extra=()) -> Any:
    capsys.readouterr()
    argv = ["sign-xml", *map(str, files), "--cert", cert_thumbprint(demo, "org")]
    code = main([*argv, "--pin-file", str(work / "pin"), "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _codes(report: dict[str, Any]) -> dict[str, str]:
    return {
        Path(r["file"]).name: ("OK" if r["ok"] else r["error"]["code"]) for r in report["results"]
    }


@pytest.mark.timeout(60)  # a FIFO read would hang here for ever
def test_a_pipe_a_folder_a_device_and_broken_dossiers_are_refused_before_the_pin(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = pin_asks(monkeypatch)
    os.mkfifo(work / "pipe.xml")
    (work / "folder.xml").mkdir()
    (work / "broken.xml").write_bytes(b"<Hoso><NoiDung></Hoso>")
    (work / "latin1.xml").write_bytes(b'<?xml version="1.0" encoding="x-unknown"?><Hoso/>')
    (work / "nocontainer.xml").write_bytes(HOSO.replace(b"<CKy_Dvi></CKy_Dvi>", b""))
    bad = ["pipe.xml", "folder.xml", "/dev/zero", "broken.xml", "latin1.xml", "nocontainer.xml"]
    code, report, err = _sign_xml(demo, work, capsys, *(work / name for name in bad))
    assert code == 1 and asked == []  # no PIN: nothing was worth it
    assert _codes(report) == {
        "pipe.xml": "INPUT_INVALID",
        "folder.xml": "INPUT_INVALID",
        "zero": "INPUT_INVALID",
        "broken.xml": "XML_MALFORMED",
        "latin1.xml": "XML_ENCODING_UNSUPPORTED",
        "nocontainer.xml": "XML_CONTAINER_MISSING",
    }
    assert "not a regular file" in report["results"][0]["error"]["message_en"]
    assert err.count("Không ký / not signed:") == len(bad)  # said on the terminal at once


@pytest.mark.timeout(60)
def test_the_good_files_of_a_batch_are_signed_and_the_bad_ones_said_before_the_pin(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = pin_asks(monkeypatch)
    os.mkfifo(work / "pipe.xml")
    code, report, err = _sign_xml(
        demo, work, capsys, work / "a.xml", work / "pipe.xml", work / "z.xml"
    )
    assert code == 1 and len(asked) == 1
    assert _codes(report) == {"a.xml": "OK", "pipe.xml": "INPUT_INVALID", "z.xml": "OK"}
    assert [Path(r["file"]).name for r in report["results"]] == ["a.xml", "pipe.xml", "z.xml"]
    assert err.count("Không ký / not signed:") == 1  # said when checked, before the PIN


@pytest.mark.timeout(60)
def test_sign_pdf_and_sign_cms_refuse_a_pipe_or_a_device_without_waiting(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = pin_asks(monkeypatch)
    os.mkfifo(work / "pipe.pdf")
    who = ["--cert", cert_thumbprint(demo, "org"), "--pin-file", str(work / "pin"), "--json"]
    for argv in (
        ["sign-pdf", str(work / "pipe.pdf"), "-o", str(work / "p.pdf")],
        ["sign-pdf", str(work), "-o", str(work / "d.pdf")],
        ["sign-cms", str(work / "pipe.pdf"), "-o", str(work / "p.p7s")],
        ["sign-cms", "/dev/zero", "-o", str(work / "z.p7s")],
    ):
        capsys.readouterr()
        assert main([*argv, *who]) == 2, argv
        error = json.loads(capsys.readouterr().out)["error"]
        assert error["code"] == "INPUT_INVALID" and "regular file" in error["message_en"], argv
    assert asked == []


def test_a_signed_name_too_long_for_the_disk_stops_the_run_before_the_pin(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = pin_asks(monkeypatch)
    (work / LONG).write_bytes(HOSO)
    files = (work / "a.xml", work / LONG, work / "z.xml")
    code, report, _ = _sign_xml(demo, work, capsys, *files, extra=["--remove-unsigned"])
    assert code == 2 and asked == []
    assert report["error"]["code"] == "INPUT_INVALID"
    assert "259 bytes long" in report["error"]["message_en"]
    assert all(f.exists() for f in files)  # nothing signed, nothing removed
    assert sorted(p.name for p in work.iterdir()) == sorted(["pin", "a.xml", "z.xml", LONG])


def test_a_system_error_in_one_file_is_its_failure_not_a_traceback(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the disk says after the PIN (ENAMETOOLONG, EIO...) ends that file as
    WRITE_FAILED; the files after it are signed and the JSON report is printed."""
    from agent.cli import xml_cmd

    real = xml_cmd.same_file

    def failing(a: Path, b: Path) -> bool:
        if Path(b).name == "a.xml":
            raise OSError(36, "File name too long")
        return real(a, b)

    monkeypatch.setattr(xml_cmd, "same_file", failing)
    code, report, _ = _sign_xml(
        demo, work, capsys, work / "a.xml", work / "z.xml", extra=["--remove-unsigned"]
    )
    assert code == 1
    assert _codes(report) == {"a.xml": "WRITE_FAILED", "z.xml": "OK"}
    assert (work / "a.xml").exists() and not (work / "z.xml").exists()


@pytest.mark.timeout(60)
def test_the_desktop_planner_shows_each_files_problem_before_the_consent(work: Path) -> None:
    (work / LONG).write_bytes(HOSO)
    (work / "nocontainer.xml").write_bytes(HOSO.replace(b"<CKy_Dvi></CKy_Dvi>", b""))
    os.mkfifo(work / "pipe.xml")
    names = [LONG, "nocontainer.xml", "pipe.xml", "a.xml"]
    plans = plan_files([work / name for name in names])
    problems = [p.problem.code if p.problem else None for p in plans]
    assert problems == ["INPUT_INVALID", "XML_CONTAINER_MISSING", "INPUT_INVALID", None]
    assert "shorter name" in plans[0].problem.message_en  # type: ignore[union-attr]


def test_a_long_but_legal_output_name_gets_its_temporary_file(tmp_path: Path) -> None:
    """The temporary file is named from a prefix of the final name: a 250-byte name (legal)
    is written, where ".NAME.xxxxxxxxxxxx.tmp" would have been over the limit."""
    target = tmp_path / ("s" * 246 + ".xml")
    assert name_too_long(target) is None
    atomic_write(target, b"<x/>")
    assert target.read_bytes() == b"<x/>" and [p.name for p in tmp_path.iterdir()] == [target.name]
    assert name_too_long(tmp_path / ("s" * 256)) is not None


def test_an_out_dir_that_is_a_file_stops_the_run_before_the_pin(
    demo: dict[str, Any], work: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = pin_asks(monkeypatch)
    (work / "notes").write_text("a file, not a folder")
    extra = ["--out-dir", str(work / "notes" / "signed")]
    code, report, _ = _sign_xml(demo, work, capsys, work / "a.xml", extra=extra)
    assert code == 2 and asked == []
    assert report["error"]["code"] == "INPUT_INVALID"
    assert "is not a folder" in report["error"]["message_en"]


@pytest.mark.parametrize(
    "argv",
    [
        ["sign-xml", "{a}", "--suffix", "/x"],
        ["sign-xml", "/"],
        ["sign-xml", "."],
        ["sign-pdf", "/"],
        ["sign-pdf", "{a}", "--suffix", "sub/x"],
        ["sign-cms", "--hash-only", "ab" * 32, "-o", "c" * 300],
        ["sign-cms", "--hash-only", "ab" * 32, "-o", "nodir/" + "c" * 300],
        # An output that is a folder: never replaced, even with --force.
        ["sign-xml", "{a}", "-o", "taken", "--force"],
        ["sign-cms", "{a}", "-o", "taken", "--force"],
    ],
)
def test_a_name_that_cannot_be_a_signed_copy_is_input_invalid_before_the_pin(
    argv: list[str],
    demo: dict[str, Any],
    work: Path,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A suffix holding a folder separator, an input with no file name, an output name too
    long for the disk or an existing folder: a stable code in JSON, never a traceback, and no
    PIN asked."""
    asked = pin_asks(monkeypatch)
    monkeypatch.chdir(work)
    (work / "taken").mkdir()
    args = [a.replace("{a}", str(work / "a.xml")) for a in argv]
    capsys.readouterr()
    code = main([*args, "--cert", cert_thumbprint(demo, "org"), "--pin-file", "pin", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code != 0 and asked == []
    assert report["error"]["code"] == "INPUT_INVALID", report
    assert not (work / "sub").exists() and not (work / "nodir").exists()
