"""A signed copy that replaces a file is read back first (red team 41).

Signing in place (``sign-xml FILE --suffix "" --force``, documented) and ``-o EARLIER --force``
replace a file: that is deleting it. The read-back (bytes as signed, signature verified with
the signer's certificate) ran only with --remove-unsigned, which in-place signing refuses, so a
copy damaged on its way to the disk (a USB stick or a share that writes wrong bytes without an
error; here a write that loses its last bytes) took the original's place with exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import xml_cmd
from agent.cli.main import main
from agent.signing.xml import check_xml_signature
from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO, PIN


@pytest.fixture
def bad_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real = xml_cmd.stage_write

    def losing_its_end(path: Any, data: bytes, **kwargs: Any) -> Any:
        return real(path, data[:-40], **kwargs)

    monkeypatch.setattr(xml_cmd, "stage_write", losing_its_end)


def _sign(demo: dict[str, Any], tmp_path: Path, capsys: Any, *extra: str) -> tuple[int, Any]:
    pin = tmp_path / "pin"
    pin.write_text(PIN)
    argv = ["sign-xml", str(tmp_path / "hoso.xml"), "--cert", cert_thumbprint(demo, "org")]
    code = main([*argv, "--pin-file", str(pin), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_in_place_a_damaged_copy_never_replaces_the_original(
    demo: dict[str, Any], tmp_path: Path, capsys: Any, bad_write: None
) -> None:
    (tmp_path / "hoso.xml").write_bytes(HOSO)
    code, report = _sign(demo, tmp_path, capsys, "--suffix", "", "--force")
    assert code != 0
    assert report["results"][0]["error"]["code"] == "READBACK_FAILED"
    assert (tmp_path / "hoso.xml").read_bytes() == HOSO


def test_over_an_earlier_output_a_damaged_copy_keeps_the_earlier_file(
    demo: dict[str, Any], tmp_path: Path, capsys: Any, bad_write: None
) -> None:
    (tmp_path / "hoso.xml").write_bytes(HOSO)
    earlier = tmp_path / "hoso_signed.xml"
    earlier.write_bytes(b"<earlier/>")
    code, report = _sign(demo, tmp_path, capsys, "--force")
    assert code != 0 and report["results"][0]["error"]["code"] == "READBACK_FAILED"
    assert earlier.read_bytes() == b"<earlier/>"


def test_in_place_a_good_copy_replaces_the_original_signed(
    demo: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "hoso.xml").write_bytes(HOSO)
    code, report = _sign(demo, tmp_path, capsys, "--suffix", "", "--force")
    assert code == 0 and report["results"][0]["output"] == str(tmp_path / "hoso.xml")
    check_xml_signature((tmp_path / "hoso.xml").read_bytes(), profile="bhxh")
