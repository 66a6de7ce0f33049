"""A batch item the token had when the page went away is on record with its digest (red team
27, F1).

The page closed its socket while the token was signing item 3 of 8. A call on the token's own
thread runs to its end, so item 3 was signed all the same (and thrown away), but the only
records were items 0-2 ("OK") and the batch's PAGE_CLOSED, which names no digest: a signature
the token made with no record of what it signed. The item's record now says PAGE_CLOSED with
its digest. The token's C_Sign is held at the narrowest seam (``Signing._w_sign``) so the page
closes while it is under way, by state, not by a guess of how long signing takes.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

from agent.tokens.module.signing import Signing
from tests.conftest import cert_thumbprint
from tests.server.test_concurrency import digest_of, until

HELD_ITEM = 3


async def test_the_item_the_token_had_when_the_page_closed_is_recorded_with_its_digest(
    demo: dict[str, Any], harness: Any, monkeypatch: Any
) -> None:
    signed: list[bytes] = []
    inside, release = threading.Event(), threading.Event()
    original = Signing._w_sign

    def held_sign(module: Any, handle: Any, algorithm: Any, payload: bytes, is_digest: bool):
        if payload == digest_of(HELD_ITEM):
            inside.set()
            release.wait(20)  # the page closes meanwhile
        result = original(module, handle, algorithm, payload, is_digest)
        signed.append(payload)
        return result

    monkeypatch.setattr(Signing, "_w_sign", held_sign)
    await harness.start()
    client = await harness.client()
    items = [
        {"kind": "hash", "digest": base64.b64encode(digest_of(i)).decode(), "label": f"d{i}"}
        for i in range(8)
    ]
    params = {"items": items, "certificate": cert_thumbprint(demo, "org")}
    task = asyncio.create_task(client.request("sign.batch", params))
    try:
        await until(inside.is_set)
        await asyncio.wait_for(client.close(), 20)
        await asyncio.gather(task, return_exceptions=True)
    finally:
        release.set()
    await until(lambda: digest_of(HELD_ITEM) in signed)  # the token did sign it
    held = digest_of(HELD_ITEM).hex()
    await until(lambda: any(r.get("sha256") == held for r in harness.audit_lines()))
    records = harness.audit_lines()
    [item] = [r for r in records if r.get("sha256") == held]
    assert item["result"] == "PAGE_CLOSED" and item["item"] == HELD_ITEM
    assert item["method"] == "sign.batch" and item["outcome"] != "signed"
    # Every digest the token signed has a record naming it; nothing after item 3 was signed.
    recorded = {r.get("sha256") for r in records}
    assert {d.hex() for d in signed} <= recorded
    assert signed == [digest_of(i) for i in range(HELD_ITEM + 1)]
    assert records[-1]["result"] == "PAGE_CLOSED" and "item" not in records[-1]
