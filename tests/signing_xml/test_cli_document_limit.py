"""The desktop signer ("Ký tệp hồ sơ…") reads each dossier whole, twice: for its consent (the
summary and the SHA-256 shown) and to sign the very bytes consented to. Both reads are bounded
by ``max_document_bytes`` (config.toml, the policy; 50 MB by default), as sign-cms's and the
agent's are: a dossier past it is its own problem at planning, and one that grows past it
afterwards (an export still running, a sync client) is DOCUMENT_TOO_LARGE, never read whole
into memory; before the PIN when it grew before the consent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent.config.policy
from agent.cli.filesign_cmd import sign_plans
from agent.config.settings import DEFAULT_MAX_DOCUMENT_BYTES
from agent.ui.filesign import plan_files
from agent.ui.filesign_view import Options
from agent.ui.scripted import ScriptedPrompter
from tests.conftest import cert_thumbprint
from tests.signing_xml.helpers import HOSO, PIN, TAX

TOO_LARGE = {"size": DEFAULT_MAX_DOCUMENT_BYTES + 1, "limit": DEFAULT_MAX_DOCUMENT_BYTES}


@pytest.fixture
def answers(tmp_path: Path, demo: dict[str, Any]) -> Path:
    path = tmp_path / "answers.json"
    certificate = cert_thumbprint(demo, "org")
    path.write_text(json.dumps({"consent": "allow", "pin": PIN, "certificate": certificate}))
    return path


def _grow_past_the_limit(path: Path) -> None:
    """The file made one byte longer than the default limit, sparse (no disk space used)."""
    with path.open("r+b") as handle:
        handle.truncate(DEFAULT_MAX_DOCUMENT_BYTES + 1)


class GrowsAtThePin(ScriptedPrompter):
    """The scripted user, and a dossier that grows while the PIN window is open."""

    def __init__(self, answers: Path, grows: Path) -> None:
        super().__init__(answers)
        self.grows = grows

    async def get_pin(self, request: Any) -> str | None:
        _grow_past_the_limit(self.grows)
        return await super().get_pin(request)


def test_a_dossier_past_the_configured_limit_is_its_own_problem_at_planning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit comes from config.toml; the other files are planned as before."""
    config = tmp_path / "config.toml"
    config.write_text("max_document_bytes = 1024\n")
    monkeypatch.setattr(agent.config.policy, "user_config_file", lambda: config)
    big, small = tmp_path / "600.xml", tmp_path / "to-khai.xml"
    big.write_bytes(HOSO)
    small.write_bytes(TAX)
    assert len(HOSO) > 1024 >= len(TAX)
    by_name = {p.source.name: p for p in plan_files([big, small])}
    problem = by_name["600.xml"].problem
    assert problem is not None and problem.code == "DOCUMENT_TOO_LARGE"
    assert problem.details == {"size": len(HOSO), "limit": 1024}
    assert by_name["to-khai.xml"].problem is None


async def test_a_dossier_grown_past_the_limit_after_planning_stops_before_the_pin(
    tmp_path: Path, answers: Path
) -> None:
    xml = tmp_path / "600.xml"
    xml.write_bytes(HOSO)
    plans = plan_files([xml])
    assert plans[0].problem is None
    _grow_past_the_limit(xml)  # between the planning window and the consent
    prompter = ScriptedPrompter(answers)
    # That file's error (the others of a batch would still be signed), before any prompt.
    [result] = await sign_plans(plans, Options(confirmed=True, remove_unsigned=True), prompter)
    assert not result["ok"] and result["error"]["code"] == "DOCUMENT_TOO_LARGE"
    assert result["error"]["details"] == TOO_LARGE
    assert prompter.count("consent") == 0 and prompter.count("pin") == 0
    assert not (tmp_path / "600_signed.xml").exists()
    assert xml.stat().st_size == DEFAULT_MAX_DOCUMENT_BYTES + 1  # kept


async def test_a_dossier_grown_past_the_limit_at_the_pin_is_not_read_whole(
    tmp_path: Path, answers: Path
) -> None:
    """Grown after its consent: refused by its size before the token signs (not read whole
    and compared); the other dossier is signed, and the grown one kept."""
    grows, other = tmp_path / "600.xml", tmp_path / "to-khai.xml"
    grows.write_bytes(HOSO)
    other.write_bytes(TAX)
    prompter = GrowsAtThePin(answers, grows)
    options = Options(confirmed=True, out_dir=None, remove_unsigned=True)
    results = await sign_plans(plan_files([grows, other]), options, prompter)
    by_name = {Path(r["file"]).name: r for r in results}
    error = by_name["600.xml"]["error"]
    assert error["code"] == "DOCUMENT_TOO_LARGE", error
    assert error["details"] == TOO_LARGE
    assert not (tmp_path / "600_signed.xml").exists()
    assert grows.stat().st_size == DEFAULT_MAX_DOCUMENT_BYTES + 1
    assert by_name["to-khai.xml"]["ok"] and by_name["to-khai.xml"]["removed_unsigned"]
