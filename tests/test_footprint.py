"""An idle agent does not load what only signing, other commands or the demo need.

``kyso-agent run`` starts at every log-in on every accountant's PC; bench/footprint.py measures
its memory and start-up time. This test pins the part a one-line change could silently undo:
a started agent (real token service, real TLS, real listeners) has not imported the signing
formats, revocation checking, JSON Schema, the demo or the portal, nor python-pkcs11, the
PKCS#11 modules or cryptography: those load when a page connects or a token is asked for (the
TLS material was checked at an earlier start, see agent.localtls.checked).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOFTHSM2 = "/usr/lib/softhsm/libsofthsm2.so"

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
    "pkcs11",  # python-pkcs11 and the modules: when a page connects or a token is asked for
    "asn1crypto",
    "agent.tokens.module",
    "agent.tokens.mechanisms",
    "cryptography",  # certificates are read at the first listing; TLS was checked before
    "agent.localtls.issue",
)

MINT = (
    "from agent.localtls import default_directory, ensure_server_certificate;"
    "ensure_server_certificate(default_directory())"
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
        tokens = agent.services.tokens
        idle = tokens.loaded
        await tokens.list_tokens()  # the first use loads the modules
        used = sorted(set(sys.modules) - set(loaded))
        statuses = [s.loaded for s in tokens.statuses]
    finally:
        await agent.stop()
    print(json.dumps({"port": agent.port, "modules": loaded, "idle": idle, "used": used,
                      "statuses": statuses}))

asyncio.run(main())
"""


@pytest.fixture
def started_agent(tmp_path: Path) -> dict[str, object]:
    """What a real agent has loaded once it is ready, and what its first token listing loaded
    (in a fresh interpreter, with a state root that has no demo and SoftHSM2 as its module)."""
    return _start(tmp_path, with_demo=False)


def _start(tmp_path: Path, *, with_demo: bool) -> dict[str, object]:
    answers = tmp_path / "answers.json"
    answers.write_text('{"consent": "deny"}', encoding="utf-8")
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n", encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "KYSO_HOME": str(tmp_path / "home"),
        "KYSO_POLICY_FILE": str(tmp_path / "no-policy.toml"),
        "PYTHONPATH": str(ROOT),
        "KYSO_PKCS11_MODULE": SOFTHSM2,
        "SOFTHSM2_CONF": str(conf),
    }
    if with_demo:  # a demo's manifest, as `kyso-agent demo` leaves it (its tokens unused here)
        demo = tmp_path / "home" / "demo"
        demo.mkdir(parents=True)
        manifest = {"softhsm2_conf": str(conf), "module": SOFTHSM2}
        (demo / "demo.json").write_text(json.dumps(manifest), encoding="utf-8")
    # An earlier start minted and checked the TLS material (here: the same call, in its own
    # interpreter, so that what it loads is not counted).
    subprocess.run(
        [sys.executable, "-c", MINT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(answers)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(report["port"], int) and report["port"] > 0
    return report


def _deferred(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == d or m.startswith(d + ".") for d in DEFERRED)]


def test_a_started_agent_has_not_loaded_what_waits_for_first_use(
    started_agent: dict[str, object],
) -> None:
    modules = started_agent["modules"]
    assert _deferred(modules) == []
    assert started_agent["idle"] is False  # no PKCS#11 module loaded yet
    # ...but it did start for real: the token layer and the server are there.
    assert isinstance(modules, list)
    assert {"agent.tokens.service", "agent.server.app"} <= set(modules)


def test_an_agent_with_a_demo_reads_its_manifest_not_its_test_pki(tmp_path: Path) -> None:
    """`./run.sh demo`'s agent: the demo's manifest points SoftHSM2 at the demo store, and
    that is all it imports of the demo (the test PKI pulls cryptography's builders in)."""
    modules = _start(tmp_path, with_demo=True)["modules"]
    assert isinstance(modules, list)
    assert "agent.demo.manifest" in modules
    assert _deferred(modules) == ["agent.demo", "agent.demo.manifest"]


def test_the_first_token_listing_loads_the_modules(started_agent: dict[str, object]) -> None:
    """Deferred, not dropped: the first use loads python-pkcs11 and the configured module."""
    used = started_agent["used"]
    assert isinstance(used, list)
    assert {"pkcs11", "agent.tokens.module"} <= set(used)
    statuses = started_agent["statuses"]
    assert isinstance(statuses, list) and statuses[0] is True  # $KYSO_PKCS11_MODULE first


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
