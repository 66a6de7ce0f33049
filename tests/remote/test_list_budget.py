"""certificates.list answers within the remote budget: a provider that accepts the connection
and never answers does not hold the page's list for the provider's whole timeout; the answer
has what is known (the tokens, the real CSC test service's credentials) and names the providers
still loading or unreachable.

The silent provider is a real fault on loopback: a TCP server that accepts and reads, and never
writes a byte. The one timing assertion is "answered before the provider's timeout", shown as an
order of events: the silent provider's listing has not ended (neither answered nor timed out)
when the answer arrives."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.demo.remote import CLIENT_ID, RunningService
from agent.server.app import CORE_KEY
from tests.remote.conftest import csc, remote_pki, secret_file  # noqa: F401 - fixtures
from tests.server.conftest import (  # noqa: F401 - fixtures
    Harness,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)

PROVIDER_TIMEOUT = 30  # seconds: the silent provider's timeout (the default), never reached
SILENT_LABEL = "Dịch vụ ký số im lặng"
DEAD_LABEL = "Dịch vụ ký số đã tắt"


class SilentProvider:
    """Accepts connections and reads what is sent; never answers."""

    def __init__(self) -> None:
        self.accepted = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.accepted.set()
        while await reader.read(4096):  # until the agent gives up and closes
            pass


@pytest.fixture
async def silent() -> AsyncIterator[SilentProvider]:
    provider = SilentProvider()
    server = await asyncio.start_server(provider.handle, "127.0.0.1", 0)
    provider.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield provider
    finally:
        server.close()
        for writer in provider.writers:
            writer.close()
        await server.wait_closed()


def _dead_url() -> str:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def _listed(client: Any) -> dict[str, Any]:
    """certificates.list, bounded by the provider's timeout so the test stops by itself."""
    result: dict[str, Any] = await asyncio.wait_for(
        client.call("certificates.list"), PROVIDER_TIMEOUT
    )
    return result


async def test_a_silent_provider_does_not_hold_up_the_certificate_list(
    demo: dict[str, Any],
    harness: Harness,  # noqa: F811
    csc: RunningService,  # noqa: F811
    secret_file: Path,  # noqa: F811
    silent: SilentProvider,
) -> None:
    providers = [
        {
            "name": "demo",
            "display_name": "Dịch vụ ký số từ xa (thử nghiệm)",
            "base_url": csc.url,
            "client_id": CLIENT_ID,
            "auth_flow": "client_credentials",
            "client_secret_file": str(secret_file),
        },
        {
            "name": "silent",
            "display_name": SILENT_LABEL,
            "base_url": silent.url,
            "timeout_seconds": PROVIDER_TIMEOUT,
        },
        {"name": "dead", "display_name": DEAD_LABEL, "base_url": _dead_url()},
    ]
    await harness.start(remote_providers=providers)
    assert harness.agent is not None
    remote_dir = harness.agent.runner.app[CORE_KEY].certs
    client = await harness.client()

    first = await _listed(client)
    assert "silent" not in remote_dir.remote.statuses  # its listing is still under way
    assert silent.accepted.is_set()  # ...and the agent did reach it: a real wait, not a skip
    assert [c for c in first["certificates"] if "token" in c], "the tokens are listed"
    missing = {m["provider"]: m for m in first["providers_missing"]}
    assert missing["silent"] == {
        "provider": "silent",
        "provider_label": SILENT_LABEL,
        "state": "loading",
    }
    # Every provider is either in the list or said to be missing, never silently absent.
    sources = {c.get("source") for c in first["certificates"]}
    assert "remote:silent" not in sources
    assert ("remote:demo" in sources) != ("demo" in missing)

    # Once the live provider and the dead one have had their answer (a refused connection
    # fails at once), the list has the live one's credentials and says the dead one is
    # unreachable; the silent one is still loading.
    for _ in range(400):
        if {"demo", "dead"} <= set(remote_dir.remote.statuses):
            break
        await asyncio.sleep(0.05)
    second = await _listed(client)
    assert "silent" not in remote_dir.remote.statuses
    remote_rows = {
        c["credential_id"].split("/", 1)[1]
        for c in second["certificates"]
        if c.get("source") == "remote:demo"
    }
    assert remote_rows == {"org", "personal_otp", "ec", "revoked"}
    assert sorted((m["provider"], m["state"]) for m in second["providers_missing"]) == [
        ("dead", "unreachable"),
        ("silent", "loading"),
    ]


async def test_without_providers_nothing_is_missing(
    demo: dict[str, Any],
    harness: Harness,  # noqa: F811
) -> None:
    await harness.start()
    client = await harness.client()
    listed = await _listed(client)
    assert listed["certificates"] and listed["providers_missing"] == []
