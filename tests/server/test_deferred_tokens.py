"""The agent idles without its PKCS#11 modules (tests/test_footprint.py): a page that connects
makes it load them, so the page's first listing finds the certificates and hot-plug events
reach it."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.localtls import ServerCertificate
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService
from agent.ui.scripted import ScriptedPrompter
from tests.conftest import cert_thumbprint
from tests.server.conftest import Harness


async def _until(condition: Any, timeout: float = 30) -> None:
    """Wait for state, not for time (the timeout only ends a broken test)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
async def deferred(
    demo: dict[str, Any],
    prompter: ScriptedPrompter,
    client_ssl: ssl.SSLContext,
    server_cert: ServerCertificate,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    """An agent over a token service started as `kyso-agent run` starts it: deferred."""
    service = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False, deferred=True)
    harness = Harness(service, prompter, client_ssl, server_cert, tmp_path)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.close()
        await service.close()


async def test_nothing_is_loaded_until_a_page_connects(deferred: Harness) -> None:
    await deferred.http("GET")  # /v1/info: a probe, not a page
    assert not deferred.tokens.loaded
    await deferred.client()
    await _until(lambda: deferred.tokens.loaded)
    assert [s.loaded for s in deferred.tokens.statuses] == [True]


async def test_the_first_listing_waits_for_the_load_and_finds_the_certificates(
    deferred: Harness, demo: dict[str, Any]
) -> None:
    client = await deferred.client()
    certificates = await client.call("certificates.list")
    thumbprints = {c["thumbprint"] for c in certificates["certificates"]}
    assert cert_thumbprint(demo, "org") in thumbprints
