"""sign-cms holds the whole file in memory, so its input is bounded as the agent's documents are
(``max_document_bytes``, 50 MB by default; config.toml or the policy): a larger file, or one
that gives more than its size says while it is read, is DOCUMENT_TOO_LARGE with the limit,
before the token is opened (no PIN), never an out-of-memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent.config.policy
from agent.cli.main import main
from agent.config.settings import DEFAULT_MAX_DOCUMENT_BYTES
from tests.conftest import cert_thumbprint, pin_asks
from tests.signing_xml.helpers import PIN


@pytest.fixture
def work(tmp_path: Path, demo: dict[str, Any]) -> Path:
    (tmp_path / "pin").write_text(PIN + "\n")
    return tmp_path


def _sign(demo: dict[str, Any], work: Path, *argv: str) -> list[str]:
    pin = str(work / "pin")
    return ["sign-cms", *argv, "--cert", cert_thumbprint(demo, "org"), "--pin-file", pin, "--json"]


def test_a_file_over_the_limit_is_refused_before_the_pin(
    demo: dict[str, Any],
    work: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = work / "kho-luu-tru.bin"
    with big.open("wb") as handle:  # sparse: past the limit without the disk space
        handle.truncate(DEFAULT_MAX_DOCUMENT_BYTES + 1)
    asked = pin_asks(monkeypatch)
    for extra in ([], ["--attached"], ["--hash-only", "ab" * 32]):
        assert main(_sign(demo, work, str(big), *extra)) == 2
        error = json.loads(capsys.readouterr().out)["error"]
        assert error["code"] == "DOCUMENT_TOO_LARGE", error
        assert error["details"] == {
            "size": DEFAULT_MAX_DOCUMENT_BYTES + 1,
            "limit": DEFAULT_MAX_DOCUMENT_BYTES,
        }
    assert asked == []
    assert sorted(p.name for p in work.iterdir()) == ["kho-luu-tru.bin", "pin"]  # no output


def test_the_limit_comes_from_the_config_and_counts_what_is_read(
    demo: dict[str, Any],
    work: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file whose size says 0 yet gives more (as /proc's do, or one still growing) is
    bounded by what is read, not by its size."""
    proc = Path("/proc/self/maps")
    if not proc.exists():
        pytest.skip("no /proc here")
    config = work / "config.toml"
    config.write_text("max_document_bytes = 1024\n")
    monkeypatch.setattr(agent.config.policy, "user_config_file", lambda: config)
    assert proc.stat().st_size == 0 and len(proc.read_bytes()) > 1024
    asked = pin_asks(monkeypatch)
    out = work / "maps.p7s"
    assert main(_sign(demo, work, str(proc), "-o", str(out))) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "DOCUMENT_TOO_LARGE" and error["details"]["limit"] == 1024
    assert error["details"]["size"] > 1024
    assert asked == [] and not out.exists()
    # Within the limit: signed as before.
    small = work / "thu.txt"
    small.write_bytes(b"x" * 1024)
    assert main(_sign(demo, work, str(small))) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert len(asked) == 1
