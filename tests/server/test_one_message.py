"""One message cannot freeze the agent (issue 11, point 5): huge and deeply nested messages fail
fast, and another page's call is answered while they arrive. Real agent, real WSS clients.

No timing is asserted: the event loop's worst lag is measured with a ticker and printed
(``pytest -s`` shows it), so a regression is visible without making the test flaky.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from agent.errors import KysoError
from agent.server import rpc
from tests.server.conftest import make_settings

DIGEST = "A" * 43 + "="  # 32 bytes in base64


def batch_message(request_id: str, count: int) -> str:
    items = [{"kind": "hash", "digest": DIGEST} for _ in range(count)]
    params = {"items": items}
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": "sign.batch", "params": params}
    )


def nested_message(request_id: str, depth: int) -> str:
    label = "[" * depth + "]" * depth
    text = (
        f'{{"jsonrpc": "2.0", "id": "{request_id}", "method": "sign.batch", '
        f'"params": {{"items": [{{"kind": "hash", "digest": "{DIGEST}", "label": {label}}}]}}}}'
    )
    json.loads(text)  # valid JSON: the agent must refuse it for its shape, not as a parse error
    return text


def dense_message(request_id: str | int, values: int) -> str:
    # Tiny values cost json.loads most per byte (66 MB of them took 8.7 s and 1.6 GB).
    return (
        f'{{"jsonrpc": "2.0", "id": {json.dumps(request_id)}, "method": "agent.info", '
        f'"params": {{"x": [{",".join(["[]"] * values)}]}}}}'
    )


class Ticker:
    """Measures how late the event loop runs a 5 ms timer (printed, never asserted)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - before - 0.005)

    async def stop(self) -> float:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.worst


def error_of(reply: dict[str, Any]) -> tuple[str, str]:
    data = reply["error"]["data"]
    return data["code"], data.get("details", {}).get("detail", "")


async def test_another_page_is_answered_while_huge_messages_arrive(agent) -> None:
    a = await agent.client()
    b = await agent.client()
    # ~3 MB each: 40 000 items where 1 000 are allowed. Past the token gate: refused unparsed.
    gated = [batch_message(f"huge-{i}", 40_000) for i in range(6)]
    gated.append(dense_message("dense-huge", 300_000))
    # Under the gate, parsed, then refused by the shape checks before jsonschema.
    checked = {
        "batch-0": batch_message("batch-0", 5_000),
        "batch-1": batch_message("batch-1", 5_000),
        "nested": nested_message("nested", 500),  # valid JSON, far deeper than any params
        "dense": dense_message("dense", 24_000),
    }
    messages = [checked["batch-0"], *gated[:4], checked["batch-1"], checked["nested"]]
    messages += [*gated[4:], checked["dense"]]
    loop = asyncio.get_running_loop()
    waiting = {request_id: loop.create_future() for request_id in checked}
    a._waiting.update(waiting)  # the harness client matches replies by id
    ticker = Ticker()
    sender = asyncio.create_task(_send_all(a.ws, messages))
    # As soon as A's first answer is back, the rest of A's messages are in flight: B asks now.
    first = await asyncio.wait_for(waiting["batch-0"], 120)
    info = await asyncio.wait_for(b.call("agent.info"), 120)
    answered_while_in_flight = not all(f.done() for f in waiting.values())
    await sender
    replies = {request_id: await asyncio.wait_for(f, 120) for request_id, f in waiting.items()}
    # Every gated message is answered (id null: it was never read) before A's next call is.
    assert (await a.call("agent.info"))["name"] == "Kyso"
    worst = await ticker.stop()
    print(f"\nworst event-loop lag while A's messages arrived: {worst * 1000:.1f} ms")

    assert info["name"] == "Kyso"
    assert answered_while_in_flight
    assert error_of(first) == ("PARAMS_INVALID", "items: at most 1000 items (got 5000)")
    assert error_of(replies["batch-1"]) == error_of(first)
    code, detail = error_of(replies["nested"])
    assert code == "PARAMS_INVALID" and "nested too deeply" in detail
    code, detail = error_of(replies["dense"])
    assert code == "PARAMS_INVALID" and "too many values" in detail
    assert [r["id"] for r in a.unmatched] == [None] * len(gated)
    for reply in a.unmatched:
        code, detail = error_of(reply)
        assert code == "PROTOCOL_INVALID_REQUEST" and "too many JSON values" in detail
    assert agent.prompter.prompts == []  # nothing was asked (or signed)


async def _send_all(ws: aiohttp.ClientWebSocketResponse, messages: list[str]) -> None:
    for text in messages:
        await ws.send_str(text)


async def test_a_full_batch_is_checked_to_its_last_item(agent) -> None:
    # 1 000 items is allowed: jsonschema runs (in a worker thread) and reports the first error,
    # here on the very last item.
    client = await agent.client()
    items: list[dict[str, Any]] = [{"kind": "hash", "digest": DIGEST} for _ in range(1000)]
    items[-1] = {"kind": "docx"}
    reply = await client.request("sign.batch", {"items": items})
    code, detail = error_of(reply)
    assert code == "PARAMS_INVALID" and detail.startswith("items/999/kind: 'docx' is not one of")
    assert reply["error"]["data"]["details"]["path"] == "items/999/kind"


async def test_a_message_over_the_size_limit_gets_message_too_large(harness) -> None:
    await harness.start(max_document_bytes=1024)
    limit = make_settings(max_document_bytes=1024).max_message_bytes
    client = await harness.client()
    await client.ws.send_str(json.dumps({"x": "y" * (limit + 10)}))
    await asyncio.wait_for(client._reader, 30)
    # 1009, or 1006 when the client could not answer the close frame before the agent hung up
    # (the client was still sending): either way the page was told why first.
    assert client.ws.close_code in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, 1006)
    (reply,) = client.unmatched
    assert reply["id"] is None and reply["error"]["code"] == 4006
    assert reply["error"]["data"]["code"] == "MESSAGE_TOO_LARGE"
    assert reply["error"]["data"]["details"]["limit"] == limit
    assert str(limit) in reply["error"]["data"]["message_vi"]


@pytest.mark.parametrize(
    ("params", "code", "detail"),
    [
        ({"items": [{}] * 1001}, "PARAMS_INVALID", "items: at most 1000 items (got 1001)"),
        ({"items": [{"kind": "hash", "x": {"pin": "1"}}]}, "PIN_NOT_ACCEPTED", None),
        ({"items": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}, "PARAMS_INVALID", "nested too deeply"),
        ({"items": [{"kind": "hash", "label": [0] * 30_000}]}, "PARAMS_INVALID", "too many values"),
    ],
)
def test_shape_checks_fail_before_the_schema(params: dict, code: str, detail: str | None) -> None:
    with pytest.raises(KysoError) as info:
        rpc.check_shape("sign.batch", params)
    assert info.value.code == code
    if detail:
        assert detail in info.value.details["detail"]


def test_a_message_with_too_many_values_is_refused_unparsed() -> None:
    text = dense_message(1, rpc.MAX_JSON_TOKENS)
    with pytest.raises(rpc.RpcFailure) as info:
        rpc.parse_request(text)
    assert info.value.id is None and info.value.error.code == "PROTOCOL_INVALID_REQUEST"
    # Just under the gate it is parsed (and the id is known).
    assert rpc.parse_request(dense_message(7, rpc.MAX_JSON_TOKENS // 2 - 10)).id == 7
