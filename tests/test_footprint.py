"""An idle agent does not load what only signing, other commands or the demo need.

``kyso-agent run`` starts at every log-in on every accountant's PC; bench/footprint.py measures
its memory and start-up time. This test pins the part a one-line change could silently undo:
a started agent (real token service, real TLS, real listeners) has not imported the signing
formats, revocation checking, JSON Schema, the demo or the portal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Loaded at first use, never at start: what each costs an idle agent is in bench/footprint.py.
DEFERRED = (
    "pyhanko",  # PDF signing (kyso-agent sign-pdf / the portal)
    "pyhanko_certvalidator",  # revocation and chain checks: at the first signature
    "signxml",
    "xmlsec",
    "lxml",  # XML signing: at the first sign.xml
    "jsonschema",  # params validation: at the first request with params
    "agent.signing.xml",
    "agent.signing.cms",
    "agent.signing.pdf",
    "agent.signing.certstatus",
    "agent.demo",  # only when a demo exists
    "portal_stub",
    "aiosmtpd",
    "argon2",
    "jinja2",  # the portal's extra
)

PROBE = """
import asyncio, json, sys
from agent.cli.main import build_parser
from agent.config.policy import load_settings

async def main():
    from agent.cli.compose import start_agent
    build_parser(["run"])  # what `kyso-agent run` registers
    settings = load_settings({"port": 0, "ping_port": 0, "prompter": "scripted:" + sys.argv[1]})
    agent = await start_agent(settings)
    try:
        loaded = sorted(sys.modules)
    finally:
        await agent.stop()
    print(json.dumps({"port": agent.port, "modules": loaded}))

asyncio.run(main())
"""


@pytest.fixture
def started_agent_modules(tmp_path: Path) -> set[str]:
    """The modules a real agent has loaded once it is ready (in a fresh interpreter, with a
    state root that has no demo)."""
    answers = tmp_path / "answers.json"
    answers.write_text('{"consent": "deny"}', encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "KYSO_HOME": str(tmp_path / "home"),
        "KYSO_POLICY_FILE": str(tmp_path / "no-policy.toml"),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(answers)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["port"] > 0
    return set(report["modules"])


def test_a_started_agent_has_not_loaded_what_waits_for_first_use(
    started_agent_modules: set[str],
) -> None:
    loaded = [
        name
        for name in sorted(started_agent_modules)
        if any(name == d or name.startswith(d + ".") for d in DEFERRED)
    ]
    assert loaded == []
    # ...but it did start for real: the token layer and the server are there.
    assert {"pkcs11", "agent.tokens.service", "agent.server.app"} <= started_agent_modules


def test_kyso_agent_run_registers_only_its_own_command() -> None:
    """`kyso-agent run` does not import the other commands' modules (they import the signing
    formats); `kyso-agent --help` still lists every command."""
    probe = (
        "import sys, json; from agent.cli.main import build_parser;"
        "build_parser(['run']); print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout))
    others = {"agent.cli.xml_cmd", "agent.cli.cms_cmd", "agent.cli.pdf_cmd", "agent.cli.audit_cmd"}
    assert modules & others == set()
    from agent.cli.main import build_parser

    help_text = build_parser().format_help()
    for command in ("run", "sign-xml", "sign-cms", "trust", "demo", "audit"):
        assert command in help_text, command
