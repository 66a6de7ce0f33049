"""Remote providers beside the USB tokens: a slow or dead provider never holds up a token's
signature or the picker (red-team R2), and one certificate listed by two providers is two
picker rows, each answering with its own provider (red-team T1).

The slow provider is a local aiohttp CSC endpoint whose answer waits on an asyncio.Event the
test sets only once the token signature is done: the order of events is the assertion, never
a duration. The two-provider case runs the real CSC test service configured twice."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent.demo.remote import CLIENT_ID, DEMO_PIN, RunningService
from agent.server.app import CORE_KEY
from tests.conftest import cert_thumbprint
from tests.remote.conftest import csc, remote_pki, secret_file  # noqa: F401 - fixtures
from tests.remote.listing import list_certificates
from tests.server.conftest import (  # noqa: F401 - fixtures
    Answers,
    Harness,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)

SLOW_LABEL = "Dịch vụ ký số chậm"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class SlowProvider:
    """A CSC endpoint that answers credentials/list only once ``release`` is set."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.answered = False
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.entered.set()
        await self.release.wait()
        self.answered = True
        return web.json_response({"credentialIDs": []})


@pytest.fixture
async def slow() -> AsyncIterator[SlowProvider]:
    provider = SlowProvider()
    app = web.Application()
    app.router.add_post("/csc/v2/{method:.*}", provider.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    provider.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield provider
    finally:
        provider.release.set()
        await runner.cleanup()


async def _slow_agent(harness: Harness, slow: SlowProvider) -> Any:  # noqa: F811
    table = {"name": "slow", "display_name": SLOW_LABEL, "base_url": slow.url}
    # Waiting for the provider means waiting out its timeout, which then ends its listing as
    # failed: the tests see that (a generous one, so a slow machine never ends it first).
    await harness.start(remote_providers=[{**table, "timeout_seconds": 30}])
    assert harness.agent is not None
    core = harness.agent.runner.app[CORE_KEY]
    core.certs.remote_budget = 0.05  # how long a token lookup waits for the providers
    return core


async def test_a_slow_provider_does_not_hold_up_a_token_signature(
    demo: dict[str, Any],
    harness: Harness,  # noqa: F811
    slow: SlowProvider,
) -> None:
    core = await _slow_agent(harness, slow)
    client = await harness.client()
    digest = hashlib.sha256(b"ho so bhxh thang 12").digest()
    signing = asyncio.ensure_future(
        client.call(
            "sign.hash", {"digest": b64(digest), "certificate": cert_thumbprint(demo, "org")}
        )
    )
    await slow.entered.wait()  # the agent asked the provider (it may know the certificate)
    result = await signing  # ...and signed with the token while the provider still waits
    assert result["signature"] and not slow.answered and not slow.release.is_set()
    assert "slow" not in core.certs.remote.statuses  # its listing never ended (nor failed)
    slow.release.set()


async def test_the_picker_shows_the_tokens_and_says_the_provider_is_still_loading(
    demo: dict[str, Any],
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    slow: SlowProvider,
) -> None:
    await _slow_agent(harness, slow)
    client = await harness.client()
    answers.set(certificate=cert_thumbprint(demo, "org"))
    result = await client.call("sign.hash", {"digest": b64(hashlib.sha256(b"x").digest())})
    assert result["signature"] and not slow.answered
    picker = next(p for p in harness.prompter.prompts if p.kind == "certificate")
    assert any(SLOW_LABEL in w and "chưa trả lời" in w for w in picker.warnings)
    slow.release.set()


def _provider(name: str, label: str, url: str, secret: Path) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": label,
        "base_url": url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret),
    }


async def test_one_certificate_at_two_providers_goes_to_the_provider_the_user_picked(
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    csc: RunningService,  # noqa: F811
    secret_file: Path,  # noqa: F811
) -> None:
    labels = {"a": "Nhà cung cấp A", "b": "Nhà cung cấp B"}
    await harness.start(
        remote_providers=[_provider(n, label, csc.url, secret_file) for n, label in labels.items()]
    )
    client = await harness.client()
    listed = await list_certificates(client)
    org = [c for c in listed if c.get("credential_id", "").endswith("/org")]
    assert {c["provider"] for c in org} == {"a", "b"} and len({c["thumbprint"] for c in org}) == 1
    thumbprint = org[0]["thumbprint"]
    for name in ("b", "a"):
        answers.set(certificate=f"{thumbprint}@{labels[name]}", remote_pin=DEMO_PIN)
        before = len(harness.prompter.prompts)
        result = await client.call(
            "sign.hash",
            {"digest": b64(hashlib.sha256(name.encode()).digest()), "certificate": thumbprint},
        )
        assert result["signature"]
        prompts = harness.prompter.prompts[before:]
        # Which copy was asked, and the PIN prompt names the provider the user picked.
        assert [p.kind for p in prompts] == ["certificate", "consent", "credential"]
        assert prompts[2].summary == labels[name]
        assert harness.audit_lines()[-1]["token"] == f"remote:{name}"
