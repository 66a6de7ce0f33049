"""Files the commands read beside the document (a PIN file, --trust, --crl, --data, the file
to verify) are read like the documents: a pipe is refused at once, never waited on, and
/dev/zero or an oversized file cannot fill memory. An outside round hung verify-xml on a FIFO
given as --trust, sign-xml on one given as --pin-file, and ran /dev/zero into MemoryError."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.files import read_regular


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)  # nobody ever writes to it: a read would wait for ever
    return path


def _json_error(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False, out
    return dict(out["error"])


@pytest.mark.parametrize("bad", ["fifo", "/dev/zero", "folder"])
@pytest.mark.parametrize(
    "argv",
    [
        ["verify-xml", "{doc}", "--trust", "{bad}"],
        ["verify-xml", "{bad}", "--trust", "{ca}"],
        ["verify-xml", "{doc}", "--trust", "{ca}", "--crl", "{bad}"],
        ["verify-cms", "{bad}", "--trust", "{ca}"],
        ["verify-cms", "{doc}", "--data", "{bad}", "--trust", "{ca}"],
        ["verify-pdf", "{bad}", "--trust", "{ca}"],
    ],
)
def test_a_pipe_a_device_or_a_folder_is_refused_at_once(
    argv: list[str],
    bad: str,
    fifo: Path,
    tmp_path: Path,
    demo: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = tmp_path / "doc.xml"
    doc.write_bytes(b"<Hoso><NoiDung/><CKy_Dvi/></Hoso>")
    target = {"fifo": str(fifo), "folder": str(tmp_path)}.get(bad, bad)
    values = {
        "doc": str(doc),
        "bad": target,
        "ca": demo["ca"]["root"],
        "out": str(tmp_path / "out.sig"),
    }
    code = main([*(part.format(**values) for part in argv), "--json"])
    assert code == 2
    error = _json_error(capsys)
    assert error["code"] == "INPUT_INVALID", error
    assert error["message_vi"] and error["action_en"]


@pytest.mark.parametrize("bad", ["/dev/zero", "folder"])
@pytest.mark.parametrize("command", ["sign-xml", "sign-cms"])
def test_a_pin_file_that_is_a_device_or_a_folder_is_refused(
    command: str,
    bad: str,
    tmp_path: Path,
    demo: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A PIN file may be a pipe (``--pin-file <(pass show token-pin)``, tests/audit/
    test_cli_interrupted.py), but /dev/zero is not read past a PIN file's size."""
    doc = tmp_path / "doc.xml"
    doc.write_bytes(b"<Hoso><NoiDung/><CKy_Dvi/></Hoso>")
    pin_file = str(tmp_path) if bad == "folder" else bad
    cert = demo["certificates"]["org"]["thumbprint"]
    argv = [command, str(doc), "-o", str(tmp_path / "out"), "--cert", cert]
    code = main([*argv, "--pin-file", pin_file, "--json"])
    out = json.loads(capsys.readouterr().out)
    codes = {r["error"]["code"] for r in out.get("results", [])} or {out["error"]["code"]}
    assert code in (1, 2) and codes == {"INPUT_INVALID"}, out


def test_read_regular_bounds_what_it_reads(tmp_path: Path) -> None:
    from agent.errors import KysoError

    path = tmp_path / "big"
    path.write_bytes(b"x" * 1001)
    assert read_regular(path, max_bytes=1001) == b"x" * 1001
    with pytest.raises(KysoError) as err:
        read_regular(path, max_bytes=1000)
    assert err.value.code == "DOCUMENT_TOO_LARGE"


def test_verify_pdf_reads_a_file_past_the_document_limit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    demo: dict[str, Any],
) -> None:
    """sign-pdf streams a PDF of any size, so verify-pdf must read back one larger than the
    document limit (which bounds XML and CMS): its own cap is far higher."""
    import agent.config.policy as policy_module

    monkeypatch.setattr(policy_module, "document_limit", lambda: 10)
    doc = tmp_path / "big.pdf"
    doc.write_bytes(b"%PDF-1.7\n" + b"%" * 100 + b"\n")
    code = main(["verify-pdf", str(doc), "--trust", demo["ca"]["root"], "--json"])
    out = json.loads(capsys.readouterr().out)
    # Read past the 10-byte limit, then refused for what it is (no signature), not its size.
    assert code == 2 and out["error"]["code"] in ("PDF_MALFORMED", "NOT_SIGNED"), out
