"""A hostile or broken remote provider never breaks the USB tokens: signing with a token and
certificates.list work while one provider answers nonsense (it is shown as unreachable), and
even an exception nothing expected from the remote side is logged once and kept out of the
tokens' path. The providers are the real CSC test service and an evil one on loopback."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path
from typing import Any

import pytest

from agent.demo.remote import RunningService
from agent.remote.directory import RemoteDirectory
from agent.server.app import CORE_KEY
from tests.conftest import cert_thumbprint
from tests.remote.conftest import csc, remote_pki, secret_file  # noqa: F401 - fixtures
from tests.remote.hostile import EvilProvider, deep, evil  # noqa: F401 - fixture
from tests.remote.listing import list_certificates
from tests.server.conftest import Harness
from tests.server.test_remote_signing import provider_table

SECONDS = 60  # each call's own bound: the test stops by itself


async def _sign_with_token(client: Any, demo: dict[str, Any]) -> dict[str, Any]:
    params = {
        "data": base64.b64encode(b"hello").decode(),
        "detached": True,
        "certificate": cert_thumbprint(demo, "org"),
    }
    result: dict[str, Any] = await asyncio.wait_for(client.call("sign.cms", params), SECONDS)
    return result


async def test_a_provider_answering_nested_json_does_not_break_the_tokens(
    demo: dict[str, Any],
    harness: Harness,
    csc: RunningService,  # noqa: F811
    secret_file: Path,  # noqa: F811
    evil: EvilProvider,  # noqa: F811
) -> None:
    evil.answers["credentials/list"] = lambda request: (200, deep(200_000))
    await harness.start(remote_providers=[provider_table(csc.url, secret_file), evil.table()])
    client = await harness.client()
    for _ in range(2):  # the first and the next: nothing poisoned, nothing cached wrong
        assert "cms" in await _sign_with_token(client, demo)
    listed = await list_certificates(client)
    assert [c for c in listed if "token" in c], "the tokens are listed"
    assert {c["source"] for c in listed if "provider" in c} == {"remote:demo"}
    reply = await client.call("certificates.list")
    assert [(m["provider"], m["state"]) for m in reply["providers_missing"]] == [
        ("evil", "unreachable")
    ]


async def test_an_unexpected_remote_exception_is_logged_once_and_kept_from_the_tokens(
    demo: dict[str, Any],
    harness: Harness,
    evil: EvilProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: RemoteDirectory, *, interactive: bool = False) -> Any:
        raise RuntimeError("a bug in the remote code")

    monkeypatch.setattr(RemoteDirectory, "list_credentials", broken)
    caplog.set_level(logging.ERROR, logger="agent.server.operations")
    await harness.start(remote_providers=[evil.table()])
    assert harness.agent is not None
    certs = harness.agent.runner.app[CORE_KEY].certs
    client = await harness.client()
    for _ in range(2):
        assert "cms" in await _sign_with_token(client, demo)
        listed = await client.call("certificates.list")
        assert [c for c in listed["certificates"] if "token" in c]
        certs.invalidate()  # the next call lists the providers again, and fails again
    failures = [r for r in caplog.records if r.getMessage() == "remote listing failed"]
    assert len(failures) == 1 and failures[0].exc_info is not None
