"""The tray's "pause signing" and "revoke" reach the running agent: a paused agent refuses every
signing method with SIGNING_PAUSED before any prompt; a site revoked from another process (the
CLI, the tray) is asked again at its next connection."""

from __future__ import annotations

import asyncio
import base64
import hashlib

from agent.server.approvals import ApprovalStore
from agent.ui.tray_control import TrayController, TrayHooks
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN

OTHER = "https://other.kyso.test"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_paused_signing_is_refused_before_any_prompt_and_resumes(demo, agent) -> None:
    controller = TrayController(
        agent.agent, asyncio.get_running_loop(), lambda: None, TrayHooks(),
        prefs_path=agent.tmp_path / "tray.json",
    )  # fmt: skip
    client = await agent.client()
    params = {
        "digest": b64(hashlib.sha256(b"to khai").digest()),
        "certificate": cert_thumbprint(demo, "org"),
    }
    controller.handle("toggle_pause")  # as the tray menu does
    for method, call in (
        ("sign.hash", params),
        ("sign.cms", {"data": b64(b"x"), "certificate": params["certificate"]}),
    ):
        response = await client.request(method, call)
        error = response["error"]
        assert error["data"]["code"] == "SIGNING_PAUSED", response
        assert "Tiếp tục ký số" in error["data"]["action_vi"]
    assert agent.prompter.prompts == []  # nobody was asked anything
    assert [a["result"] for a in agent.audit_lines()] == ["SIGNING_PAUSED"] * 2
    # Read-only methods still answer while paused.
    assert await client.call("agent.info")
    controller.handle("toggle_pause")
    result = await client.call("sign.hash", params)
    assert result["signature"]
    assert [p.kind for p in agent.prompter.prompts] == ["consent", "pin"]


async def test_a_site_revoked_elsewhere_is_asked_again(agent) -> None:
    client = await agent.client(OTHER)  # answers: pair "always"
    await client.call("agent.info")
    assert OTHER in agent.approvals
    assert [p.kind for p in agent.prompter.prompts] == ["pair"]
    await client.close()
    # Another process (kyso-agent sites revoke, the tray) edits approvals.json.
    assert ApprovalStore(agent.approvals.path).remove(OTHER)
    again = await agent.client(OTHER)
    await again.call("agent.info")
    assert [p.kind for p in agent.prompter.prompts] == ["pair", "pair"]
    assert ORIGIN not in agent.approvals  # configured origins are not approvals
