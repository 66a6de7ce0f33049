"""Hostile JSON-RPC from an allowed page (red team 33): one page that stops reading must not
hold token events back from the others; a schema pattern's ``$`` is the end of the string (not
"before a final line feed"); ``page: 1.0`` is page 1. Real agent, real sockets, SoftHSM2."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from importlib import resources

import pytest

from tests.conftest import cert_thumbprint
from tests.server.conftest import plug_and_unplug
from tests.signing_pdf.conftest import make_pdf

DIGEST = "LXEWQrcmsEQBYnypz6wy9chTD7GQPMTbAiWHF5IaSIE="


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _code(reply: dict) -> str:
    return reply["error"]["data"]["code"] if "error" in reply else "OK"


# --- F1 (medium): one page that stops reading holds tokens.changed for every other page ------


async def test_a_page_that_stops_reading_does_not_hold_other_pages_token_events(
    demo, harness
) -> None:
    """tokens.changed is 'sent to every connected, allowed page' (docs/protocol.md). A paired
    page that sends requests but never reads its socket fills its TCP window; the agent's
    notification pump (agent/server/app.py _token_events.pump) awaits conn.notify() for each
    connection in turn, and the stalled page's send (holding its _send_lock) blocks it until the
    heartbeat closes that page (~50 s observed). Another page must get the event promptly."""
    await harness.start()
    stalled = [await harness.raw_ws() for _ in range(2)]  # read nothing, never pong
    other = await harness.client()
    stalled.append(await harness.raw_ws())

    async def push(ws) -> None:
        for i in range(6000):
            await ws.send_str(
                json.dumps({"jsonrpc": "2.0", "id": i, "method": "certificates.list"})
            )
            if i % 50 == 0:
                await asyncio.sleep(0.01)

    for ws in stalled:
        # The client's own send blocks too once both windows are full: that is the point.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(push(ws), 15)
    await asyncio.sleep(2)
    from agent.server.app import CONNECTIONS_KEY

    conns = harness.agent.runner.app[CONNECTIONS_KEY]
    assert any(c._send_lock.locked() for c in conns), "precondition: a page's send is stuck"
    await plug_and_unplug(harness, "KYSO RT33 F1")

    async def both_events() -> None:
        # Two events: whatever order the pump visits the pages in, the second one waits for
        # the first to reach every page, the stalled ones included.
        while len([n for n in other.notifications if n.get("method") == "tokens.changed"]) < 2:
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(both_events(), 10)
    except TimeoutError:
        pytest.fail(
            "the reading page got its tokens.changed events late while others stalled: "
            f"{other.notifications}"
        )


# --- F2 (low): placement.page 1.0 (an integer under the schema) is not used as page 1 ---------


async def test_anchor_page_given_as_1_0_finds_the_anchor_like_page_1(demo, agent) -> None:
    """The schema says page is an integer; Draft 2020-12 (and the agent's own validator) treat
    1.0 as one, and the box form accepts it (int() in payloads.py). With an anchor the float is
    passed through (payloads.py anchor_page=where.get("page")), pypdf's pages[0.0] raises
    TypeError, anchor.py _search_page swallows it as 'no text on that page': the page gets
    PDF_ANCHOR_NOT_FOUND for text that is there."""
    client = await agent.client()
    org = cert_thumbprint(demo, "org")
    doc = _b64(make_pdf(2))
    as_int = await asyncio.wait_for(
        client.request(
            "sign.pdf",
            {"document": doc, "certificate": org, "placement": {"anchor": "Nguoi ky", "page": 1}},
        ),
        120,
    )
    assert _code(as_int) == "OK"
    as_float = await asyncio.wait_for(
        client.request(
            "sign.pdf",
            {"document": doc, "certificate": org, "placement": {"anchor": "Nguoi ky", "page": 1.0}},
        ),
        120,
    )
    assert _code(as_float) == "OK", as_float


# --- F3 (low): schema patterns accept a trailing newline ($ in Python re) --------------------


@pytest.mark.parametrize(
    "method,params",
    [
        ("sign.pdf", {"field": "Sig1\n"}),
        ("sign.xml", {"profile": "bhxh\n"}),
        ("auth.challenge", {"nonce": "A" * 43 + "\n"}),
        ("sign.hash", {"digest": DIGEST, "certificate": "THUMB\n"}),
        ("sign.hash", {"digest": DIGEST, "certificate_filter": {"mst": "0101234567\n"}}),
    ],
)
async def test_a_trailing_newline_does_not_pass_a_schema_pattern(
    demo, agent, answers, method, params
) -> None:
    """Every pattern in agent/server/schema/*.json is anchored ^…$; JSON Schema patterns are
    ECMA-262, where $ is the end of the string, but jsonschema and schemacheck._pattern use
    Python's re.search, where $ also matches before a final newline. So "bhxh\\n" gets
    XML_PROFILE_UNKNOWN, "<thumbprint>\\n" CERT_NOT_FOUND, a nonce with a newline is signed
    (its H(nonce) covers the newline) and a PDF field named "Sig1\\n" is written into the file.
    Bad input must get PARAMS_INVALID before anything else (docs/protocol.md, Messages)."""
    answers.set(consent="deny")  # nothing may reach a signature
    org = cert_thumbprint(demo, "org")
    params = {k: (v.replace("THUMB", org) if isinstance(v, str) else v) for k, v in params.items()}
    if method == "sign.pdf":
        params = {"document": _b64(make_pdf(1)), "certificate": org, **params}
    if method == "sign.xml":
        params = {"document": _b64(b"<?xml version='1.0'?><a/>"), **params}
    client = await agent.client()
    reply = await asyncio.wait_for(client.request(method, params), 60)
    assert _code(reply) == "PARAMS_INVALID", reply
    assert agent.prompter.count("consent") == 0


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_every_schema_pattern_ends_the_string_only_at_its_end() -> None:
    """agent.server.schemacheck.ecma_pattern turns a closing ``$`` into ``\\Z``: a ``$``
    anywhere else would keep Python's meaning (before a final line feed)."""
    schemas = resources.files("agent.server").joinpath("schema")
    patterns = [
        pattern
        for entry in schemas.iterdir()
        if entry.name.endswith(".json")
        for pattern in _patterns(json.loads(entry.read_text()))
    ]
    assert len(patterns) > 10
    for pattern in patterns:
        assert "$" not in pattern[:-1], pattern
