"""A signing request refused because the page already has too many requests in flight (BUSY)
is on record like every other refusal: the audit log holds one line per signature asked for."""

from __future__ import annotations

import asyncio

import agent.server.connection as connection
from tests.server.test_concurrency import GatedConsent, code, sign_params, until


async def test_a_busy_refusal_of_a_signature_is_audited(demo, harness, monkeypatch) -> None:
    monkeypatch.setattr(connection, "MAX_IN_FLIGHT", 1)
    await harness.start()
    gate = GatedConsent(harness.prompter)
    client = await harness.client()
    first = asyncio.create_task(client.request("sign.hash", sign_params(demo, 1)))
    await until(lambda: gate.asked)  # the first waits for the user's answer
    assert code(await client.request("sign.hash", sign_params(demo, 2))) == "BUSY"
    gate.open.set()
    assert code(await first) == "OK"
    results = [(line["method"], line["result"]) for line in harness.audit_lines()]
    assert sorted(results) == [("sign.hash", "BUSY"), ("sign.hash", "OK")]
