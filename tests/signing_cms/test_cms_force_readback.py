"""``--force`` replaces a file only with a copy read back first (review 41).

``sign-cms -o OUT --force`` and ``verify-cms --extract FILE --force`` replaced an existing file
with bytes never read back: a write that loses bytes without an error (a USB stick, a share)
put a damaged file in place of the earlier one. Now READBACK_FAILED, the earlier file kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.cli import cms_cmd
from tests.signing_cms.test_cli import CONTENT, _org, _run, _trust_args, files  # noqa: F401


@pytest.fixture
def losing_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    real = cms_cmd.stage_write

    def losing_its_end(path: Any, data: bytes, **kwargs: Any) -> Any:
        return real(path, data[:-10], **kwargs)

    monkeypatch.setattr(cms_cmd, "stage_write", losing_its_end)


def test_sign_cms_force_keeps_the_earlier_signature_file(
    demo: dict[str, Any],
    files: dict[str, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    losing_writes: None,
) -> None:
    out = tmp_path / "tokhai.p7s"
    out.write_bytes(b"the earlier signature")
    argv = ["sign-cms", str(files["doc"]), "-o", str(out), "--force", "--json"]
    code, report = _run(capsys, *argv, "--cert", _org(demo), "--pin-file", str(files["pin"]))
    assert code != 0 and report["error"]["code"] == "READBACK_FAILED"
    assert out.read_bytes() == b"the earlier signature"


def test_verify_cms_extract_force_keeps_the_earlier_file(
    demo: dict[str, Any],
    files: dict[str, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed = tmp_path / "signed.p7m"
    argv = ["sign-cms", str(files["doc"]), "--attached", "-o", str(signed)]
    code, _ = _run(capsys, *argv, "--cert", _org(demo), "--pin-file", str(files["pin"]))
    assert code == 0
    extracted = tmp_path / "extracted.xml"
    extracted.write_bytes(b"earlier")
    real = cms_cmd.stage_write
    monkeypatch.setattr(
        cms_cmd, "stage_write", lambda path, data, **kw: real(path, data[:-10], **kw)
    )
    argv = ["verify-cms", str(signed), *_trust_args(demo), "--extract", str(extracted)]
    code, report = _run(capsys, *argv, "--force", "--json")
    assert code != 0 and report["error"]["code"] == "READBACK_FAILED"
    assert extracted.read_bytes() == b"earlier"
