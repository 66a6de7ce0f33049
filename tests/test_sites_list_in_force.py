"""Review 40: ``sites list ORIGIN`` answers "is this site allowed?" (exit 1 if not), but it
counted a user approval the policy puts out of force (allow_user_origins = false): exit 0 and
the row, while the agent refuses that site."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli_robustness import _env, _run


def test_sites_list_origin_not_in_force_is_not_allowed(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    assert _run(["sites", "allow", "https://a.example.vn"], env).returncode == 0
    policy = tmp_path / "policy.toml"
    policy.write_text("allow_user_origins = false\n")
    env["KYSO_POLICY_FILE"] = str(policy)
    listed = _run(["sites", "list", "--json"], env)
    rows = json.loads(listed.stdout)["sites"]
    assert rows and rows[0]["in_force"] is False, rows  # the agent refuses it
    one = _run(["sites", "list", "https://a.example.vn"], env)
    assert one.returncode == 1, one.stdout
