"""One unpaired origin cannot fill the agent with handshakes waiting for its pairing question.

A WebSocket handshake from an unknown https origin waits for the user's answer (up to the prompt
timeout) while holding a TCP connection under the listener's cap. Without a bound, a page
opening as many sockets as the cap (128) keeps every paired portal out for two minutes. So at
most a few handshakes wait per origin, and a small share of the cap in all; the others are
closed at once with 4429 TOO_MANY_CONNECTIONS.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from agent.server.app import PAIRING_KEY
from agent.server.pairing import (
    MAX_HANDSHAKES_PER_ORIGIN,
    MAX_PAIRING_WAITING,
    MAX_WAITING_PER_SITE,
    PairingBusy,
    waiting_budget,
)
from tests.server.conftest import ORIGIN
from tests.server.test_pairing import GatedPairing, _until

FLOOD = "https://flood.example"


def test_the_waiting_budget_is_a_small_share_of_the_cap() -> None:
    assert waiting_budget(128) == 16  # the default cap: an eighth
    assert waiting_budget(4096) == 16
    assert waiting_budget(16) == 4
    assert waiting_budget(8) == 2
    assert waiting_budget(4) == 1  # the smallest effective cap still lets one handshake wait
    for cap in range(4, 300):
        assert 1 <= waiting_budget(cap) <= max(1, cap // 4)


async def _flood(harness, origins: list[str]) -> tuple[list, list[asyncio.Task]]:
    """Open one handshake per entry of ``origins`` at once, from a client session without a
    connection limit of its own; return (the sockets refused at once, the tasks still
    waiting) once every handshake is either refused or waiting for its pairing answer."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    harness.flood_session = session
    url = f"wss://127.0.0.1:{harness.port}/v1/ws"
    tasks = [
        asyncio.create_task(
            session.ws_connect(url, ssl=harness.client_ssl, headers={"Origin": origin})
        )
        for origin in origins
    ]
    pairing = harness.agent.runner.app[PAIRING_KEY]
    await _until(lambda: sum(t.done() for t in tasks) + pairing.waiting_total == len(tasks))
    refused = [t.result() for t in tasks if t.done()]
    return refused, [t for t in tasks if not t.done()]


async def _close_flood(harness, waiting: list[asyncio.Task]) -> None:
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await harness.flood_session.close()


async def test_a_flood_from_one_unpaired_origin_leaves_room_for_paired_portals(harness) -> None:
    gate = GatedPairing(harness.prompter)  # the user has not answered the question yet
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start()  # the default caps: 128 connections per listener
    cap = agent.sites[0].cap
    pairing = agent.runner.app[PAIRING_KEY]
    started = time.monotonic()
    refused, waiting = await _flood(harness, [FLOOD] * cap)
    try:
        assert gate.asked == [FLOOD]  # one question, however many sockets
        assert len(waiting) == MAX_HANDSHAKES_PER_ORIGIN
        assert pairing.waiting == {FLOOD: MAX_HANDSHAKES_PER_ORIGIN}
        # The others were refused at once, not after the prompt timeout (120 s).
        for ws in refused:
            msg = await ws.receive(timeout=10)
            assert (msg.data, msg.extra) == (4429, "TOO_MANY_CONNECTIONS")
        assert time.monotonic() - started < 60
        # Their connections are gone once the client answered the close (a browser does so at
        # once): only the waiting handshakes still hold places under the cap.
        site = next(s for s in agent.sites if s.name.startswith("https://127.0.0.1"))
        await _until(lambda: site.open == len(waiting))
        # A paired portal connects and is served while the question is still on screen.
        portal = await harness.client(ORIGIN)
        assert (await portal.call("agent.info"))["origin"] == ORIGIN
        assert gate.asked == [FLOOD] and not gate.open.is_set()
        # The user says no: the waiting ones get the refusal, and nothing was approved.
        gate.open.set()
        for ws in await asyncio.gather(*waiting):
            msg = await ws.receive(timeout=10)
            assert (msg.data, msg.extra) == (4403, "ORIGIN_NOT_ALLOWED")
        assert pairing.waiting == {}
        assert FLOOD not in harness.approvals
    finally:
        await _close_flood(harness, waiting)


async def test_many_unpaired_origins_together_stay_within_the_budget(harness) -> None:
    # A small cap (16 per listener: budget 4): four origins of the flood wait, one handshake
    # each; a fifth origin is refused at once, and the portal still gets a connection.
    gate = GatedPairing(harness.prompter)
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start(max_tcp_connections=16)
    pairing = agent.runner.app[PAIRING_KEY]
    budget = pairing.max_waiting
    assert budget == waiting_budget(agent.sites[0].cap) == 4
    origins = [f"https://f{n}.flood{n}.example" for n in range(12)]
    refused, waiting = await _flood(harness, origins)
    try:
        assert len(waiting) == budget == pairing.waiting_total
        assert len(gate.asked) == 1
        for ws in refused:
            msg = await ws.receive(timeout=10)
            assert (msg.data, msg.extra) == (4429, "TOO_MANY_CONNECTIONS")
        portal = await harness.client(ORIGIN)
        assert (await portal.call("agent.info"))["origin"] == ORIGIN
    finally:
        gate.open.set()
        await _close_flood(harness, waiting)


async def test_the_waiters_are_counted_back_when_they_leave(harness) -> None:
    # The per-origin count goes down when a waiter is cancelled (its page went away), so the
    # origin is not refused for good once the question is over.
    gate = GatedPairing(harness.prompter)
    await harness.start()
    pairing = harness.agent.runner.app[PAIRING_KEY]
    askers = [asyncio.create_task(pairing.ask(FLOOD)) for _ in range(pairing.max_per_origin)]
    await _until(lambda: pairing.waiting.get(FLOOD) == pairing.max_per_origin)
    try:
        await pairing.ask(FLOOD)
    except PairingBusy:
        pass
    else:
        raise AssertionError("one handshake too many was let wait")
    askers[-1].cancel()  # a page that only waited (not the one whose question is shown)
    await _until(lambda: pairing.waiting.get(FLOOD) == pairing.max_per_origin - 1)
    gate.open.set()
    assert await asyncio.gather(*askers[:-1]) == [True] * (pairing.max_per_origin - 1)
    assert pairing.waiting == {}


async def test_one_site_cannot_take_every_waiting_place(harness) -> None:
    # Subdomains of one site queue for their questions: only as many as the site could ever be
    # asked about wait; the others are turned away at once, never asked, and another site's
    # new portal still gets a place in the queue. Turned away as busy (4429), not refused
    # (4403): the user refused nothing, and a portal's third service opening at once with two
    # others should retry later, not tell its user to quit and reopen Kyso.
    gate = GatedPairing(harness.prompter)
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start()
    pairing = agent.runner.app[PAIRING_KEY]
    evil = [f"https://a{n}.evil.example" for n in range(MAX_PAIRING_WAITING)]
    refused, waiting = await _flood(harness, evil)
    try:
        assert len(waiting) == MAX_WAITING_PER_SITE
        for ws in refused:
            msg = await ws.receive(timeout=10)
            assert (msg.data, msg.extra) == (4429, "TOO_MANY_CONNECTIONS")
        portal = "https://dichvucong.baohiemxahoi.gov.vn"
        queued = asyncio.create_task(pairing.ask(portal))
        await _until(lambda: portal in pairing.waiting)
        gate.open.set()  # the user refuses the two evil questions; the portal is asked next
        assert await asyncio.wait_for(queued, 20) is False  # "deny" is the scripted answer
        assert gate.asked == [*evil[:MAX_WAITING_PER_SITE], portal] or (
            len(gate.asked) == MAX_WAITING_PER_SITE + 1
            and gate.asked[-1] == portal
            and set(gate.asked[:-1]) <= set(evil)
        )
    finally:
        gate.open.set()
        await _close_flood(harness, waiting)
