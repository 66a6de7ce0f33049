"""Revoking a site ends its open connections, not only its next handshake.

The user revokes with ``kyso-agent sites revoke`` (another process: it rewrites
``approvals.json``) or from the tray (the controller calls the agent's own approval store). A
page of that site that is already connected must not keep signing: its connection is closed with
4403 ORIGIN_NOT_ALLOWED, as a refused handshake; a request it sends meanwhile is not run; a
signature waiting for consent is cancelled. The same holds for a "once" answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import agent.server.app as app_module
from agent.server.approvals import ApprovalStore
from agent.ui.tray_control import TrayController, TrayHooks
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN
from tests.server.test_concurrency import GatedConsent, until

REPO = Path(__file__).resolve().parents[2]
SITE = "https://dichvucong.baohiemxahoi.gov.vn"
DIGEST = base64.b64encode(hashlib.sha256(b"revoked").digest()).decode()


def _home(harness) -> Path:
    """The state root the CLI will use; the agent's approval store reads the same file."""
    home = harness.tmp_path / "home"
    harness.approvals = ApprovalStore(home / "data" / "approvals.json")
    return home


def _cli(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`kyso-agent ARGV` as the user runs it, in its own process."""
    env = {**os.environ, "KYSO_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *argv],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


async def _closed_with_4403(client) -> None:
    await until(lambda: client.ws.closed, timeout=15)
    assert client.ws.close_code == 4403


async def _cannot_sign(client, demo) -> None:
    params = {"digest": DIGEST, "certificate": cert_thumbprint(demo, "org")}
    with pytest.raises((ConnectionError, RuntimeError)):
        await client.request("sign.hash", params)


def _signed_ok(harness, origin: str) -> int:
    return sum(
        1 for line in harness.audit_lines() if line["origin"] == origin and line["result"] == "OK"
    )


async def test_a_site_revoked_with_the_cli_loses_its_open_connection(demo, harness) -> None:
    home = _home(harness)
    harness.approvals.add(SITE)  # allowed "always" earlier
    await harness.start(sign_hash_origins=[ORIGIN, SITE])
    page = await harness.client(SITE)
    portal = await harness.client(ORIGIN)  # the policy's portal: not concerned
    params = {"digest": DIGEST, "certificate": cert_thumbprint(demo, "org")}
    assert "result" in await page.request("sign.hash", params)  # it could sign before
    done = await asyncio.to_thread(_cli, home, "sites", "revoke", SITE)
    assert done.returncode == 0, done.stderr
    await _closed_with_4403(page)  # without reloading the page
    await _cannot_sign(page, demo)
    assert _signed_ok(harness, SITE) == 1
    # A new connection is a new origin for the agent: it is asked about again (and refused).
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    ws = await harness.raw_ws(SITE)
    msg = await ws.receive(timeout=10)
    assert (msg.data, msg.extra) == (4403, "ORIGIN_NOT_ALLOWED")
    assert (await portal.call("agent.info"))["origin"] == ORIGIN


async def test_a_request_sent_right_after_the_revoke_is_not_run(demo, harness, monkeypatch) -> None:
    # The periodic check is made too slow to matter: the per-message check alone must stop it.
    monkeypatch.setattr(app_module, "REVOCATION_CHECK_SECONDS", 3600.0)
    home = _home(harness)
    harness.approvals.add(SITE)
    await harness.start(sign_hash_origins=[ORIGIN, SITE])
    page = await harness.client(SITE)
    assert (await page.call("agent.info"))["origin"] == SITE
    done = await asyncio.to_thread(_cli, home, "sites", "revoke", SITE)
    assert done.returncode == 0, done.stderr
    await _cannot_sign(page, demo)
    assert page.ws.close_code == 4403
    assert [p for p in harness.prompter.prompts if p.kind == "consent"] == []
    assert _signed_ok(harness, SITE) == 0


async def test_a_signature_waiting_for_consent_is_cancelled_by_a_tray_revoke(demo, harness) -> None:
    harness.approvals.add(SITE)
    agent = await harness.start(sign_hash_origins=[ORIGIN, SITE])
    gate = GatedConsent(harness.prompter)  # the consent dialog is on screen, not answered
    page = await harness.client(SITE)
    params = {"digest": DIGEST, "certificate": cert_thumbprint(demo, "org")}
    waiting = asyncio.create_task(page.request("sign.hash", params))
    await until(lambda: gate.asked == [SITE])
    tray = TrayController(agent, asyncio.get_running_loop(), lambda: None, TrayHooks())
    await tray.refresh()
    assert SITE in tray.state.sites
    tray.handle(f"revoke:{SITE}")  # the menu's "Thu hồi quyền"
    await _closed_with_4403(page)
    with pytest.raises(ConnectionError):
        await waiting
    gate.open.set()  # the user clicks "allow" too late: nothing is signed
    await until(lambda: any(line["origin"] == SITE for line in harness.audit_lines()))
    assert [line["result"] for line in harness.audit_lines()] == ["ORIGIN_NOT_ALLOWED"]
    assert SITE not in harness.approvals
    tray.close()


async def test_a_once_answer_is_revoked_from_the_tray(harness) -> None:
    harness.prompter.path.write_text(json.dumps({"pair": "once"}))
    agent = await harness.start(allowed_origins=[])
    page = await harness.client(SITE)
    assert (await page.call("agent.info"))["origin"] == SITE
    tray = TrayController(agent, asyncio.get_running_loop(), lambda: None, TrayHooks())
    await tray.refresh()
    assert tray.state.sites == (SITE,)  # listed, so it can be revoked
    tray.handle(f"revoke:{SITE}")
    await _closed_with_4403(page)
    assert tray.state.sites == ()
    assert SITE not in harness.approvals.session_origins
    tray.close()


async def test_a_once_answer_is_revoked_with_the_cli(harness) -> None:
    home = _home(harness)
    harness.prompter.path.write_text(json.dumps({"pair": "once"}))
    await harness.start(allowed_origins=[])
    page = await harness.client(SITE)
    other = await harness.client("https://thuedientu.gdt.gov.vn")  # also "once": stays
    assert (await page.call("agent.info"))["origin"] == SITE
    done = await asyncio.to_thread(_cli, home, "sites", "revoke", SITE)
    assert done.returncode == 1  # not in approvals.json ...
    assert "once" in done.stdout  # ... but the running agent's "once" answer ends too
    await _closed_with_4403(page)
    assert SITE not in harness.approvals.session_origins
    assert (await other.call("agent.info"))["origin"] == "https://thuedientu.gdt.gov.vn"
    # An older revocation in the file does not end a later "once" answer.
    harness.prompter.path.write_text(json.dumps({"pair": "once"}))
    again = await harness.client(SITE)
    assert (await again.call("agent.info"))["origin"] == SITE
    await asyncio.sleep(app_module.REVOCATION_CHECK_SECONDS * 2)
    assert not again.ws.closed


def test_the_file_keeps_a_bounded_record_of_revocations(tmp_path) -> None:
    from agent.server.approvals import MAX_REVOKED

    store = ApprovalStore(tmp_path / "approvals.json")
    for n in range(MAX_REVOKED + 10):
        store.remove(f"https://s{n}.example")
    saved = json.loads((tmp_path / "approvals.json").read_text())
    assert saved["origins"] == {}
    assert len(saved["revoked"]) == MAX_REVOKED
    assert "https://s0.example" not in saved["revoked"]  # the oldest go first
    # A damaged "revoked" section only loses revocations, never grants anything.
    saved["revoked"] = {"not an origin": 1, "https://x.example": None}
    saved["origins"] = {"https://kept.example": {}}
    (tmp_path / "approvals.json").write_text(json.dumps(saved))
    assert ApprovalStore(tmp_path / "approvals.json").origins == ("https://kept.example",)
