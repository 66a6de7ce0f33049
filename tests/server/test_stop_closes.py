"""Stopping the agent tells every open page (1001 AGENT_STOPPING) before any has answered,
and a page that never answers its close frame holds back neither the others nor the agent's
exit. Real agent, real sockets."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.server.conftest import Harness

PAGES = 3


async def _open_pages(agent: Harness) -> list[aiohttp.ClientWebSocketResponse]:
    # autoclose=False: a page answers the agent's close frame only when the test says so.
    pages = [await agent.raw_ws(autoclose=False) for _ in range(PAGES)]
    for page in pages:  # each one served (registered as a connection) before the stop
        await page.send_json({"jsonrpc": "2.0", "id": 1, "method": "info"})
        answer = await page.receive_json()
        assert answer["id"] == 1
    return pages


async def test_every_page_is_told_before_any_answers(agent: Harness) -> None:
    pages = await _open_pages(agent)
    received: list[aiohttp.WSMessage] = []
    all_told = asyncio.Event()

    async def page_waits_for_the_others(page: aiohttp.ClientWebSocketResponse) -> None:
        msg = await page.receive()
        received.append(msg)
        if len(received) == PAGES:
            all_told.set()
        # Each page answers only once every page has the close frame.
        await all_told.wait()
        await page.close()

    stopping = asyncio.create_task(agent.agent.stop())  # type: ignore[union-attr]
    # A hang guard: this takes milliseconds.
    await asyncio.wait_for(asyncio.gather(*map(page_waits_for_the_others, pages)), 1.5)
    await stopping
    assert [(m.type, m.data, m.extra) for m in received] == [
        (aiohttp.WSMsgType.CLOSE, 1001, "AGENT_STOPPING")
    ] * PAGES


async def test_a_silent_page_does_not_hold_back_the_others(agent: Harness) -> None:
    silent, *others = await _open_pages(agent)
    stopping = asyncio.create_task(agent.agent.stop())  # type: ignore[union-attr]
    for page in others:
        msg = await asyncio.wait_for(page.receive(), 1.5)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)
        await page.close()
    # The silent page never answers: the agent still stops, after its grace for that page.
    await asyncio.wait_for(stopping, 30)
    assert silent.closed or (await silent.receive()).type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
    )
