"""What the CLI writes reaches the terminal inert: a file name, a PDF field name, a certificate
subject or a token label holding ESC sequences, a carriage return or a bidi override cannot
clear the screen, rewrite a line or turn "txt.exe" around (red-team: sign-xml's report, the
PDF lock lines and verify output printed them raw). JSON output still parses to the very
same names."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from agent.cli.main import main
from agent.cli.output import InertText
from tests.conftest import cert_thumbprint

from .helpers import HOSO, PIN

HOSTILE = "h\x1b[2J\x1b]0;title\x07\rFAKE\u202etxt.exe\x9b1m"
OBEYED = ("\x1b", "\r", "\x07", "\u202e", "\x9b")


def test_inert_text_escapes_what_a_terminal_obeys_and_keeps_the_rest() -> None:
    out = io.StringIO()
    InertText(out).write("Hồ sơ 600\tđã ký\n" + HOSTILE)
    text = out.getvalue()
    assert text.startswith("Hồ sơ 600\tđã ký\n")
    assert not any(c in text for c in OBEYED)
    assert "\\u001b[2J" in text and "\\u202etxt.exe" in text
    wire = io.StringIO()
    InertText(wire).write(json.dumps({"file": HOSTILE}, ensure_ascii=False))
    assert json.loads(wire.getvalue()) == {"file": HOSTILE}


def test_sign_xml_reports_a_hostile_file_name_inert_and_json_keeps_it(
    demo: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "pin").write_text(PIN + "\n")
    source = tmp_path / f"{HOSTILE}.xml"
    source.write_bytes(HOSO)
    argv = ["sign-xml", str(source), "--cert", cert_thumbprint(demo, "org")]
    stdout, stderr = sys.stdout, sys.stderr
    capsys.readouterr()
    assert main([*argv, "--pin-file", str(tmp_path / "pin")]) == 0
    assert (sys.stdout, sys.stderr) == (stdout, stderr)  # the streams are given back
    shown = capsys.readouterr()
    assert "signed:" in shown.out
    for text in (shown.out, shown.err):
        assert not any(c in text for c in OBEYED), text
    # The same name in JSON: escaped on the wire, identical once parsed.
    assert main([*argv, "--pin-file", str(tmp_path / "pin"), "--json", "--force"]) == 0
    captured = capsys.readouterr().out
    assert not any(c in captured for c in OBEYED)
    assert json.loads(captured)["results"][0]["file"] == str(source)


def test_a_line_feed_in_a_file_name_cannot_print_a_report_line_of_its_own(
    demo: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    """A name holding "\\nĐÃ KÝ ∕ signed: …" (U+2215, a slash look-alike a name may hold)
    printed raw made a forged report line: a failed file could look signed. The line feed is
    shown as \\n; --json keeps the name as it is."""
    (tmp_path / "pin").write_text(PIN + "\n")
    fake = "ĐÃ KÝ \u2215 signed:"
    good, bad = tmp_path / f"x.xml\n{fake} hop-dong.xml", tmp_path / f"bad\n{fake} y.xml"
    good.write_bytes(HOSO)
    bad.write_bytes(b"<not xml")
    argv = ["sign-xml", str(good), str(bad), "--cert", cert_thumbprint(demo, "org")]
    capsys.readouterr()
    assert main([*argv, "--pin-file", str(tmp_path / "pin")]) == 1
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert not [ln for ln in lines if ln.startswith(fake)], lines
    assert f"x.xml\\n{fake} hop-dong.xml" in out.out
    assert f"bad\\n{fake} y.xml" in out.out + out.err
    assert main([*argv, "--pin-file", str(tmp_path / "pin"), "--json", "--force"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in report["results"]] == [str(good), str(bad)]
