"""The administrator's policy binds every way in, not only the agent's server (red team 37):
the desktop file signer takes the policy's prompter, token modules and ``mst_mismatch``, and
under ``allow_user_origins = false`` neither `kyso-agent sites` nor the tray says a site of the
user's own is allowed (the agent refuses it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from agent.config import policy
from agent.errors import KysoError
from agent.server.approvals import ApprovalStore

POLICY_SITE = "https://portal.gov.vn"
USER_SITE = "https://evil.example"


@pytest.fixture
def admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write the administrator's policy (at the one seam, policy.LINUX_POLICY_FILE)."""
    path = tmp_path / "etc-kyso" / "policy.toml"
    path.parent.mkdir()
    monkeypatch.setattr(policy, "LINUX_POLICY_FILE", str(path))
    monkeypatch.delenv("KYSO_POLICY_FILE", raising=False)

    def write(text: str) -> Path:
        path.write_text(text)
        return path

    return write


def test_the_file_signer_takes_the_policys_prompter_modules_and_mst_rule(admin: Any) -> None:
    from agent.cli.filesign_cmd import desktop_settings

    assert desktop_settings(None) == ("dialog", [], "warn")
    assert desktop_settings("terminal", ["/opt/x.so"]) == ("terminal", ["/opt/x.so"], "warn")
    admin('prompter = "dialog"\nmst_mismatch = "refuse"\npkcs11_modules = ["/usr/lib/admin.so"]\n')
    prompter, modules, mst = desktop_settings("terminal", ["/opt/x.so"])
    assert prompter == "dialog"  # the policy's, not the command line's
    assert modules == ["/usr/lib/admin.so", "/opt/x.so"]
    assert mst == "refuse"


async def test_the_file_signer_refuses_another_units_dossier_under_refuse(
    tmp_path: Path, demo: dict[str, Any]
) -> None:
    """Before the consent, as the agent does (it was signed after a consent in red)."""
    from agent.cli.filesign_cmd import sign_plans
    from agent.ui.filesign import plan_files
    from agent.ui.filesign_view import Options
    from agent.ui.scripted import ScriptedPrompter
    from tests.conftest import cert_thumbprint
    from tests.signing_xml.helpers import PIN, TAX

    folder = tmp_path / "hoso"
    folder.mkdir()
    dossier = folder / "to-khai.xml"
    dossier.write_bytes(TAX)  # the return of unit 0109876543, not the certificate's unit
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps({"consent": "allow", "pin": PIN, "certificate": cert_thumbprint(demo, "org")})
    )
    prompter = ScriptedPrompter(answers)
    options = Options(confirmed=True, out_dir=None, remove_unsigned=False)
    with pytest.raises(KysoError) as refused:
        await sign_plans(plan_files([dossier]), options, prompter, mst_policy="refuse")
    assert refused.value.code == "MST_MISMATCH"
    assert not _consents(prompter), "refused before the consent"
    assert not (folder / "to-khai_signed.xml").exists()
    # Under "warn" (the default) the consent shows it and the user decides.
    (result,) = await sign_plans(plan_files([dossier]), options, prompter, mst_policy="warn")
    assert result["ok"], result
    assert len(_consents(prompter)) == 1


def _consents(prompter: Any) -> list[Any]:
    return [p for p in prompter.prompts if p.kind == "consent"]


def test_sites_does_not_claim_a_site_the_policy_forbids(
    admin: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli.sites_cmd import run_sites, site_rows

    ApprovalStore().add(USER_SITE)  # allowed while the machine was not managed
    admin(f'allow_user_origins = false\nallowed_origins = ["{POLICY_SITE}"]\n')
    rows = {r["origin"]: r for r in site_rows()}
    assert rows[POLICY_SITE]["in_force"] and rows[POLICY_SITE]["source"] == "policy"
    assert not rows[USER_SITE]["in_force"]
    assert run_sites(argparse.Namespace(action="list", origin=None, json=False)) == 0
    assert "ignored by the policy" in capsys.readouterr().out
    with pytest.raises(KysoError) as locked:
        run_sites(argparse.Namespace(action="allow", origin="https://new.example", json=False))
    assert locked.value.code == "SETTING_LOCKED"
    assert locked.value.details["setting"] == "allow_user_origins"
    assert "https://new.example" not in ApprovalStore().origins
    # Revoking is still the user's to do.
    assert run_sites(argparse.Namespace(action="revoke", origin=USER_SITE, json=True)) == 0


def test_the_tray_does_not_list_the_users_sites_under_such_a_policy(admin: Any) -> None:
    from agent.cli.filesign_cmd import desktop_hooks
    from agent.config.policy import load_settings

    admin(f'allowed_origins = ["{POLICY_SITE}"]\n')
    assert desktop_hooks(None, load_settings({})).user_sites
    admin(f'allow_user_origins = false\nallowed_origins = ["{POLICY_SITE}"]\n')
    assert not desktop_hooks(None, load_settings({})).user_sites
