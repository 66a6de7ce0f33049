"""A file name that is not valid UTF-8 (a cp1258 name unpacked from a Windows zip) is signed,
recorded and printed like any other (docs/security.md, threat table).

Python keeps such a name's bytes as lone surrogates ("h\\udcf4.xml"). They once made the audit
write raise after the file was signed and its original deleted: a traceback, later files never
signed, no summary, records missing. Now the log writes them as JSON escapes, stdout prints them
in any locale, an original is deleted only after its signed copy was read back (and a deletion
that fails keeps it, and the run goes on), and whatever stops a run, every file gets its record.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import agent.cli.xml_cmd
from agent.cli.main import main
from tests.signing_xml.helpers import HOSO

PIN = "123456"
BAD = os.fsdecode(b"h\xf4 s\xf5.xml")  # not UTF-8: its bytes are kept as lone surrogates


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    (folder / "out").mkdir(parents=True)
    (folder / "pin").write_text(PIN + "\n")
    for name in ("a.xml", BAD, "c.xml"):
        (folder / name).write_bytes(HOSO)
    monkeypatch.chdir(folder)
    return folder


def _cert(demo: dict[str, Any]) -> list[str]:
    return ["--cert", demo["certificates"]["org"]["thumbprint"], "--pin-file", "pin"]


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def _sign_xml(demo: dict[str, Any], *extra: str) -> int:
    files = ["a.xml", BAD, "c.xml"]
    return main(["sign-xml", *files, *_cert(demo), "--out-dir", "out", "--remove-unsigned", *extra])


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])  # a UTF-8 locale; C/POSIX
def test_sign_xml_signs_records_and_reports_every_file_as_json(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    errors: str,
) -> None:
    sys.stdout.reconfigure(errors=errors)  # type: ignore[union-attr]  (capsys's stream)
    assert _sign_xml(demo, "--json") == 0
    summary = json.loads(capsys.readouterr().out)  # valid JSON, whatever the name
    assert summary["signed"] == 3 and summary["failed"] == 0
    assert [r["file"] for r in summary["results"]] == ["a.xml", BAD, "c.xml"]
    assert sorted(os.listdir(work / "out")) == sorted(
        ["a_signed.xml", os.fsdecode(b"h\xf4 s\xf5_signed.xml"), "c_signed.xml"]
    )
    assert not any((work / name).exists() for name in ("a.xml", BAD, "c.xml"))
    assert [(r["file"], r["result"]) for r in _records(log_path)] == [
        ("a.xml", "OK"),
        (BAD, "OK"),
        ("c.xml", "OK"),
    ]


def test_sign_xml_prints_the_name_in_plain_text(
    demo: dict[str, Any], work: Path, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _sign_xml(demo) == 0  # capsys's stdout is strict UTF-8, like a UTF-8 terminal
    out = capsys.readouterr().out
    assert "h\\udcf4 s\\udcf5.xml" in out
    assert len(_records(log_path)) == 3


def test_sign_cms_records_an_undecodable_name(
    demo: dict[str, Any], work: Path, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sign-cms", BAD, *_cert(demo)]) == 0
    assert (work / (BAD + ".p7s")).exists()
    assert "\\udcf4" in capsys.readouterr().out
    assert [(r["file"], r["result"]) for r in _records(log_path)] == [(BAD, "OK")]


def test_an_original_that_cannot_be_deleted_is_kept_and_the_run_goes_on(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rename = os.rename

    def refuse(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        # The test runs as root, which no folder permission stops: the narrowest fake (the
        # original is moved aside before it is deleted).
        if os.fsdecode(os.path.basename(src)) == BAD:
            raise PermissionError(13, "Permission denied")
        rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", refuse)
    assert _sign_xml(demo, "--json") == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [(r["ok"], r["removed_unsigned"]) for r in results] == [
        (True, True),
        (True, False),
        (True, True),
    ]
    assert (work / BAD).exists() and (work / "out" / "c_signed.xml").exists()
    assert [r["result"] for r in _records(log_path)] == ["OK", "OK", "OK"]


def test_a_bug_met_on_one_file_is_its_record_and_the_run_goes_on(
    demo: dict[str, Any], work: Path, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_one = agent.cli.xml_cmd.sign_one

    async def broken(source: Path, *args: Any) -> dict[str, Any]:
        if source.name == BAD:
            raise RuntimeError("a bug")  # not a KysoError: nothing in the code path expects it
        return await sign_one(source, *args)

    monkeypatch.setattr(agent.cli.xml_cmd, "sign_one", broken)
    assert _sign_xml(demo, "--json") == 1
    assert [(r["file"], r["result"]) for r in _records(log_path)] == [
        ("a.xml", "OK"),
        (BAD, "INTERNAL_ERROR"),
        ("c.xml", "OK"),
    ]
    assert (work / BAD).exists()  # never deleted unsigned
    assert not (work / "c.xml").exists() and (work / "out" / "c_signed.xml").exists()


def test_a_run_stopped_by_a_bug_still_records_every_file(
    demo: dict[str, Any], work: Path, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug before the first file (choosing the certificate): exit status 70, and every
    file still gets its record."""

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(agent.cli.xml_cmd, "choose_signing_certificate", broken)
    assert _sign_xml(demo, "--json") == 70
    assert [(r["file"], r["result"]) for r in _records(log_path)] == [
        ("a.xml", "INTERNAL_ERROR"),
        (BAD, "INTERNAL_ERROR"),
        ("c.xml", "INTERNAL_ERROR"),
    ]
    assert all((work / name).exists() for name in ("a.xml", BAD, "c.xml"))
