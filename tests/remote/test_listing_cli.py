"""``kyso-agent certs`` and ``doctor`` show remote credentials beside token certificates, each
with its ``source``: ``token:<label>`` or ``remote:<provider>``. The CLI runs in a worker
thread (its own event loop) while the CSC test service answers on the test's loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.demo.remote import CLIENT_ID, RunningService
from tests.tokens.conftest import TOKEN1


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *providers: dict[str, Any]) -> None:
    """A config.toml with these [[remote_providers]] (the session's own stays untouched)."""
    lines = []
    for provider in providers:
        lines.append("[[remote_providers]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in provider.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr("agent.config.policy.user_config_file", lambda: path)


def _provider(url: str, secret_file: Path, name: str = "demo") -> dict[str, Any]:
    return {
        "name": name,
        "display_name": "Ký số từ xa (thử nghiệm)",
        "base_url": url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret_file),
    }


async def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(argv))
    return status, capsys.readouterr().out


async def test_certs_json_has_both_sources(
    demo: dict[str, Any],
    csc: RunningService,
    secret_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _config(tmp_path, monkeypatch, _provider(csc.url, secret_file))
    status, out = await _run(capsys, "certs", "--json")
    assert status == 0
    rows = json.loads(out)
    sources = {r["source"] for r in rows}
    assert f"token:{TOKEN1}" in sources and "remote:demo" in sources
    remote = {r["credential_id"].split("/", 1)[1]: r for r in rows if r["source"] == "remote:demo"}
    assert set(remote) == {"org", "personal_otp", "ec", "revoked"}
    assert remote["org"]["mst"] == "0101234567" and remote["org"]["needs_pin"] is True
    assert remote["revoked"]["remote_status"] != "enabled"
    assert all("revocation" in r for r in rows)

    status, out = await _run(capsys, "certs")
    assert status == 0
    assert "remote:demo" in out and f"token:{TOKEN1}" in out
    assert "Lê Minh Châu" in out


async def test_doctor_reports_each_provider(
    demo: dict[str, Any],
    csc: RunningService,
    secret_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A second provider nobody answers for: reported, and the first is listed all the same.
    _config(
        tmp_path,
        monkeypatch,
        _provider(csc.url, secret_file),
        _provider("http://127.0.0.1:1", secret_file, name="gone"),
    )
    status, out = await _run(capsys, "doctor", "--json")
    assert status == 0  # usable certificates: the tokens' and the remote ones
    report = json.loads(out)
    providers = {p["provider"]: p for p in report["remote"]["providers"]}
    assert providers["demo"]["ok"] is True and providers["demo"]["credentials"] == 4
    assert providers["gone"]["ok"] is False
    assert providers["gone"]["error"]["code"] == "REMOTE_UNREACHABLE"
    problems = {c["subject"]: c["problems"] for c in report["remote"]["credentials"]}
    assert problems["Công ty TNHH Giải pháp Kyso Việt Nam (ký từ xa)"] == []
    assert any("REMOTE_DISABLED" in p for p in problems.values())

    status, out = await _run(capsys, "doctor")
    assert status == 0
    assert "Ký số từ xa / remote signing:" in out
    assert "[FAIL] gone: [REMOTE_UNREACHABLE]" in out
