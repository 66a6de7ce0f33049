"""sign-xml and sign-cms leave the same audit records as the agent; ``kyso-agent audit`` lists
them. The records carry the file's name and the document's hash, never the PIN or the content."""

from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from agent.cli import common as cli_common
from agent.cli.main import main
from tests.signing_xml.helpers import HOSO

PIN = "123456"
MARKER = "NOIDUNG-MAT-7f3c91"  # in every document's content; must never reach the log
DOCUMENT = HOSO.replace(
    b"<MaThuTuc>600</MaThuTuc>", f"<MaThuTuc>600</MaThuTuc><!-- {MARKER} -->".encode()
)


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    folder = tmp_path / "Hồ sơ Nguyễn Văn An"  # a personal folder name: must not be logged
    folder.mkdir()
    (folder / "pin").write_text(PIN + "\n")
    (folder / "bad-pin").write_text("000000\n")
    for name in ("d02.xml", "d03.xml"):
        (folder / name).write_bytes(DOCUMENT)
    (folder / "thu.txt").write_bytes(f"Thư gửi cơ quan BHXH {MARKER}".encode())
    return folder


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _org(demo: dict[str, Any]) -> dict[str, str]:
    cert = x509.load_pem_x509_certificate(Path(demo["certificates"]["org"]["path"]).read_bytes())
    return {
        "thumbprint": demo["certificates"]["org"]["thumbprint"],
        "subject_cn": cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
        "cert_serial": format(cert.serial_number, "x"),
        "token": demo["certificates"]["org"]["token"],
    }


def test_cli_signatures_are_recorded_with_the_agents_fields_and_no_secret(
    demo: dict[str, Any], work: Path, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = _org(demo)
    cert = ["--cert", org["thumbprint"], "--pin-file", str(work / "pin")]
    xml_files = [str(work / "d02.xml"), str(work / "d03.xml")]
    assert main(["sign-xml", *xml_files, *cert, "--json"]) == 0
    assert main(["sign-cms", str(work / "thu.txt"), *cert, "--json"]) == 0
    digest = hashlib.sha384(b"ban ke khai").hexdigest()
    out = str(work / "digest.p7s")
    assert main(["sign-cms", "--hash-only", digest, "-o", out, *cert, "--json"]) == 0
    capsys.readouterr()

    records = _records(log_path)
    assert [(r["method"], r.get("file")) for r in records] == [
        ("sign-xml", "d02.xml"),
        ("sign-xml", "d03.xml"),
        ("sign-cms", "thu.txt"),
        ("sign-cms", None),
    ]
    for r in records:
        assert r["channel"] == "cli" and "origin" not in r
        assert (r["outcome"], r["result"]) == ("signed", "OK")
        assert {k: r[k] for k in org} == org
        assert r["time"].endswith("+00:00")
    assert records[0]["kind"] == "xml" and records[0]["profile"] == "bhxh"
    assert records[0]["sha256"] == hashlib.sha256(DOCUMENT).hexdigest()
    assert records[2]["kind"] == "cms"
    assert records[2]["sha256"] == hashlib.sha256((work / "thu.txt").read_bytes()).hexdigest()
    assert (records[3]["digest"], records[3]["digest_alg"]) == (digest, "sha384")

    text = log_path.read_text(encoding="utf-8")
    assert PIN not in text
    assert MARKER not in text
    assert "Nguyễn Văn An" not in text and str(work) not in text  # names, not paths


def test_refused_and_cancelled_cli_signatures_are_recorded(
    demo: dict[str, Any],
    work: Path,
    log_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = _org(demo)
    files = [str(work / "d02.xml"), str(work / "d03.xml")]
    wrong = ["--cert", org["thumbprint"], "--pin-file", str(work / "bad-pin")]
    assert main(["sign-xml", *files, *wrong, "--json"]) == 2
    # On the terminal, Ctrl-D at the PIN prompt cancels (the terminal is the seam faked here).
    monkeypatch.delenv("KYSO_PIN_FILE", raising=False)

    def end_of_input(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", end_of_input)
    monkeypatch.setattr(cli_common, "has_terminal", lambda: True)  # a person was asked
    assert main(["sign-cms", str(work / "thu.txt"), "--cert", org["thumbprint"]]) == 2
    capsys.readouterr()

    records = _records(log_path)
    assert [(r.get("file"), r["outcome"], r["result"]) for r in records] == [
        ("d02.xml", "refused", "PIN_INCORRECT"),
        ("d03.xml", "refused", "PIN_INCORRECT"),
        ("thu.txt", "cancelled", "USER_CANCELLED"),
    ]
    assert all(r["thumbprint"] == org["thumbprint"] for r in records)
    assert "000000" not in log_path.read_text(encoding="utf-8")  # not even the wrong PIN
    assert not (work / "d02_signed.xml").exists()


def _line(time: str, **fields: Any) -> str:
    return json.dumps({"time": time, **fields}, ensure_ascii=False) + "\n"


@pytest.fixture
def sample_log(tmp_path: Path) -> Path:
    """A live file and one rotated file, oldest record first in each, as the log writes them."""
    path = tmp_path / "copy" / "audit.jsonl"
    path.parent.mkdir()
    ok = {"outcome": "signed", "result": "OK"}
    path.with_name("audit.jsonl.1").write_text(
        _line("2026-11-30T16:59:59+00:00", channel="cli", method="sign-xml", file="cu.xml", **ok)
        + _line(
            "2026-11-30T17:00:00+00:00",
            channel="agent",
            origin="https://dichvucong.baohiemxahoi.gov.vn",
            method="sign.xml",
            sha256="ab" * 32,
            subject_cn="CÔNG TY TNHH KYSO",
            **ok,
        ),
        encoding="utf-8",
    )
    path.write_text(
        _line(
            "2026-12-02T03:00:00+00:00",
            channel="agent",
            origin="https://other.example",
            method="sign.cms",
            outcome="cancelled",
            result="USER_CANCELLED",
        )
        + "{not json\n"
        + _line(
            "2026-12-03T01:30:00+00:00",
            channel="cli",
            method="sign-cms",
            file="evil\x1b[2J\u202egpj.xml",
            **ok,
        ),
        encoding="utf-8",
    )
    return path


def _audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", *argv])
    return code, capsys.readouterr().out


def test_audit_lists_newest_first_across_rotated_files_in_vietnam_time(
    sample_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _audit(capsys, "--file", str(sample_log), "--json", "--limit", "0")
    assert code == 0
    report = json.loads(out)
    assert [r["time"] for r in report["records"]] == [
        "2026-12-03T01:30:00+00:00",
        "2026-12-02T03:00:00+00:00",
        "2026-11-30T17:00:00+00:00",
        "2026-11-30T16:59:59+00:00",
    ]
    assert report["unreadable_lines"] == 1

    code, out = _audit(capsys, "--file", str(sample_log), "--limit", "2")
    assert code == 0
    assert "giờ Việt Nam (UTC+7)" in out
    assert "2026-12-03 08:30:00" in out and "2026-12-02 10:00:00" in out  # UTC+7
    assert "cu.xml" not in out  # --limit 2: only the two newest
    assert "\x1b" not in out and "\u202e" not in out  # a file name cannot drive the terminal
    assert "\\u001b[2J\\u202egpj.xml" in out
    assert "đã hủy / cancelled [USER_CANCELLED]" in out


def test_audit_filters_by_since_in_vietnam_time_origin_and_channel(
    sample_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def times(*argv: str) -> list[str]:
        code, out = _audit(capsys, "--file", str(sample_log), "--json", *argv)
        assert code == 0
        return [r["time"][:19] for r in json.loads(out)["records"]]

    # 1 Dec 2026 00:00 in Vietnam is 30 Nov 17:00 UTC: the 16:59:59 UTC record is the day before.
    assert times("--since", "2026-12-01") == [
        "2026-12-03T01:30:00",
        "2026-12-02T03:00:00",
        "2026-11-30T17:00:00",
    ]
    assert times("--since", "2026-12-02 10:00") == ["2026-12-03T01:30:00", "2026-12-02T03:00:00"]
    assert times("--origin", "dichvucong.baohiemxahoi.gov.vn") == ["2026-11-30T17:00:00"]
    assert times("--origin", "https://other.example/") == ["2026-12-02T03:00:00"]
    assert times("--channel", "cli") == ["2026-12-03T01:30:00", "2026-11-30T16:59:59"]
    assert times("--sha256", "abab") == ["2026-11-30T17:00:00"]
    assert times("--since", "1d") == []  # every sample record is in the past

    code = main(["audit", "--file", str(sample_log), "--since", "hôm qua", "--json"])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "INPUT_INVALID"


def test_audit_lists_what_the_cli_signed_and_teaches_in_help(
    demo: dict[str, Any], work: Path, log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _audit(capsys)
    assert code == 0 and "Chưa có bản ghi nào / no records yet" in out
    thumbprint = demo["certificates"]["org"]["thumbprint"]
    main(["sign-xml", str(work / "d02.xml"), "--cert", thumbprint, "--pin-file", str(work / "pin")])
    code, out = _audit(capsys, "--channel", "cli")
    assert code == 0
    assert "d02.xml" in out and "đã ký / signed" in out
    assert hashlib.sha256(DOCUMENT).hexdigest()[:16] in out
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    help_text = capsys.readouterr().out
    for phrase in ("giờ Việt Nam (UTC+7)", "--since", "--origin", "--channel", "mã PIN"):
        assert phrase in help_text


def test_a_record_no_reader_expected_does_not_stop_the_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One record at the calendar's edge (no local time exists for it) or a line nested past
    Python's limits stopped `audit` and the journal window (INTERNAL_ERROR, exit 70)."""
    log = tmp_path / "audit.jsonl"
    good = {"time": "2026-12-03T01:30:00+00:00", "method": "sign-xml", "result": "OK"}
    edge = {"time": "0001-01-01T00:00:00+14:00", "method": "sign-xml", "result": "OK"}
    log.write_text(
        json.dumps(good) + "\n" + json.dumps(edge) + "\n" + "[" * 200000 + "\n", encoding="utf-8"
    )
    code, out = _audit(capsys, "--file", str(log), "--json", "--limit", "0")
    assert code == 0
    report = json.loads(out)
    assert len(report["records"]) == 2 and report["unreadable_lines"] == 1
    code, out = _audit(capsys, "--file", str(log), "--limit", "0")
    assert code == 0 and "2026-12-03 08:30:00" in out and "0001-01-01" in out
    code, out = _audit(capsys, "--file", str(log), "--since", "7d", "--json")
    assert code == 0
