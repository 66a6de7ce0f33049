"""Pairing places cannot be filled by a couple of sites, nor by a site the user is done with.

While one pairing question is on screen, other unknown origins wait for theirs (at most 8, two
per site) and their WebSocket handshakes wait for the answer (a small budget, 16 by default).
A hostile page controlling a few registrable domains (``evil0.example``, ``evil1.example``)
used to fill the handshake budget with two of them, and one origin took all of it at a small
connection cap, so the user's real portal was refused (4429) until those questions were gone.
And a site the user had already refused twice, which is never asked again, still queued and
held places behind someone else's question. Now each site holds at most a quarter of every pool
and a site the guard will not ask about is refused before it takes a place.

Sequencing only: the user's answer waits on a gate the test opens (GatedPairing).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from agent.server.app import PAIRING_KEY
from agent.server.origin import site_of
from tests.server.test_pairing import GatedPairing, _refused, _until

PORTAL = "https://dichvucong.baohiemxahoi.gov.vn"


class Flood:
    """Handshakes opened at once from one client session without a connection limit."""

    def __init__(self, harness) -> None:
        self.harness = harness
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.tasks: list[asyncio.Task] = []

    async def open(self, origins: list[str]) -> tuple[list, list[asyncio.Task]]:
        """Open one handshake per entry; return (sockets closed at once, tasks still waiting)
        once each is either closed or counted as waiting for its pairing answer."""
        url = f"wss://127.0.0.1:{self.harness.port}/v1/ws"
        tasks = [
            asyncio.create_task(
                self.session.ws_connect(
                    url, ssl=self.harness.client_ssl, headers={"Origin": origin}
                )
            )
            for origin in origins
        ]
        self.tasks += tasks
        pairing = self.harness.agent.runner.app[PAIRING_KEY]
        wanted = set(origins)

        def settled() -> bool:
            waiting = sum(n for o, n in pairing.waiting.items() if o in wanted)
            return sum(t.done() for t in tasks) + waiting == len(tasks)

        await _until(settled)
        return [t.result() for t in tasks if t.done()], [t for t in tasks if not t.done()]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.session.close()


async def _codes(sockets) -> set[tuple[int, str]]:
    out = set()
    for ws in sockets:
        msg = await ws.receive(timeout=10)
        out.add((msg.data, msg.extra))
    return out


async def test_two_sites_cannot_take_every_waiting_handshake(harness) -> None:
    # Two sites, two origins each, four sockets per origin: 16 handshakes, the whole default
    # budget. Each site gets a quarter; the rest are refused at once, and the real portal that
    # comes next still gets its place in the queue (and its question, once the user is free).
    gate = GatedPairing(harness.prompter)
    harness.prompter.path.write_text(json.dumps({"pair": "once"}))
    agent = await harness.start()  # the default cap: a budget of 16 waiting handshakes
    pairing = agent.runner.app[PAIRING_KEY]
    assert pairing.max_waiting == 16
    evil = [f"https://a{n}.evil{s}.example" for s in range(2) for n in range(2)]
    flood = Flood(harness)
    try:
        refused, waiting = await flood.open([o for o in evil for _ in range(4)])
        per_site = {s: n for s, n in pairing.waiting_per_site.items() if s.startswith("evil")}
        assert per_site == {"evil0.example": 4, "evil1.example": 4} and len(waiting) == 8
        assert await _codes(refused) == {(4429, "TOO_MANY_CONNECTIONS")}
        _, portal = await flood.open([PORTAL])
        assert len(portal) == 1 and pairing.waiting.get(PORTAL) == 1
        gate.open.set()  # the user answers each question in turn: the portal's comes too
        ws = await asyncio.wait_for(portal[0], 20)
        assert not ws.closed and PORTAL in gate.asked
    finally:
        gate.open.set()
        await flood.close()


async def test_at_a_small_cap_one_origin_does_not_take_the_whole_budget(harness) -> None:
    # 16 connections per listener: 4 waiting handshakes in all. One origin's four sockets used
    # to take all four; now one site waits with one, and the portal still queues.
    gate = GatedPairing(harness.prompter)
    agent = await harness.start(max_tcp_connections=16)
    pairing = agent.runner.app[PAIRING_KEY]
    assert (pairing.max_waiting, pairing.max_per_site, pairing.max_per_origin) == (4, 1, 1)
    flood = Flood(harness)
    try:
        refused, waiting = await flood.open(["https://flood.example"] * 4)
        assert len(waiting) == 1 and len(refused) == 3
        _, portal = await flood.open([PORTAL])
        assert len(portal) == 1 and pairing.waiting.get(PORTAL) == 1
    finally:
        gate.open.set()
        await flood.close()


async def test_a_site_refused_twice_takes_no_waiting_place(harness) -> None:
    # The user refused two origins of evil.example: the site is never asked again. While
    # another site's question is on screen, its new origins are refused at once (4403), not
    # queued behind that question holding places (two origins, their handshakes) meanwhile.
    gate = GatedPairing(harness.prompter)
    gate.open.set()
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    agent = await harness.start()
    pairing = agent.runner.app[PAIRING_KEY]
    for n in range(2):
        assert await _refused(harness, f"https://a{n}.evil.example")
    assert pairing.guard.strikes[site_of("https://evil.example")] == 2
    gate.open.clear()
    flood = Flood(harness)
    try:
        _, shown = await flood.open(["https://someone.example"])  # a question on screen
        await _until(lambda: gate.asked[-1:] == ["https://someone.example"])
        evil = [f"https://b{n}.evil.example" for n in range(4)]
        refused, waiting = await flood.open([o for o in evil for _ in range(2)])
        assert waiting == [] and not any(o in pairing.waiting for o in evil)
        assert await _codes(refused) == {(4403, "ORIGIN_NOT_ALLOWED")}
        assert not [o for o in gate.asked if o.startswith("https://b")]
        assert len(shown) == 1 and not shown[0].done()  # still waiting for the user
    finally:
        gate.open.set()
        await flood.close()
