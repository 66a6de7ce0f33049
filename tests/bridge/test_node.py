"""The JavaScript bridge's own tests (node's built-in runner), and its agreement with the agent.

node is a test requirement like SoftHSM2: missing node is a failure, not a skip
(``./run.sh test`` installs Debian's nodejs).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.errors import ERRORS

REPO = Path(__file__).resolve().parents[2]
BRIDGE = REPO / "bridge_js"


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.fail("node is missing: install the Debian package nodejs (./run.sh test does)")
    return node


def test_bridge_node_suite_passes() -> None:
    """`node --test bridge_js/test/`: discovery, diagnosis, timeouts, reconnection, errors."""
    result = subprocess.run(
        [_node(), "--test", "test/"], cwd=BRIDGE, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = re.search(r"^# pass (\d+)", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)", output, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 20, output[-2000:]
    assert failed and int(failed.group(1)) == 0


def test_generated_files_equal_a_fresh_build() -> None:
    """kyso-bridge.mjs (single file), kyso-bridge.js (classic) and the README's example blocks
    are exactly what ``node scripts/build.mjs`` makes from src/ and examples/ (no hand edits)."""
    result = subprocess.run(
        [_node(), "scripts/build.mjs", "--check"],
        cwd=BRIDGE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_single_file_module_has_no_imports() -> None:
    """The module a portal copies stands alone: an import left in it 404s once copied."""
    text = (BRIDGE / "kyso-bridge.mjs").read_text(encoding="utf-8")
    assert not re.search(r"^\s*import\b|\bimport\s*\(", text, re.MULTILINE)
    assert "export { " in text and "KysoBridge" in text


def _bridge_table() -> dict[str, dict[str, object]]:
    script = "import('./kyso-bridge.mjs').then(m => console.log(JSON.stringify(m.ERROR_TABLE)))"
    result = subprocess.run(
        [_node(), "--input-type=module", "-e", script],
        cwd=BRIDGE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bridge_codes_agree_with_the_agent_table() -> None:
    """Codes the bridge shares with the agent keep the agent's numbers; its own codes are in
    5xxx and never reuse an agent code; every row has vi + en text and an action."""
    table = _bridge_table()
    for code, row in table.items():
        for key in ("vi", "en", "actionVi", "actionEn"):
            assert str(row[key]).strip(), f"{code}.{key}"
        if code in ERRORS:
            assert row["rpc"] == ERRORS[code].rpc_code, code
        else:
            assert 5000 <= int(row["rpc"]) < 6000, code
    for code in (
        "AGENT_UNREACHABLE",
        "CERT_NOT_TRUSTED",
        "LOCAL_NETWORK_DENIED",
        "TIMEOUT",
        "AGENT_TOO_OLD",
        "ORIGIN_NOT_ALLOWED",
        "USER_CANCELLED",
        "BUSY",
    ):
        assert code in table, code


def test_portal_sign_script_parses(tmp_path: Path) -> None:
    """portal-sign.js is a valid ES module (a syntax error would silently disable signing)."""
    copy = tmp_path / "portal-sign.mjs"
    copy.write_text((REPO / "portal_stub/static/portal-sign.js").read_text(encoding="utf-8"))
    result = subprocess.run(
        [_node(), "--check", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
