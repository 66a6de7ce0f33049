"""One origin cannot take every WebSocket slot (docs/security.md, threat table).

The agent holds at most ``max_connections`` open WebSockets. A buggy or hostile page that opens
them all (and answers the heartbeat) would leave the user's real portal refused with 4429. So
one origin holds at most a quarter of the slots (at least 4: a portal opens a handful of tabs);
beyond it that origin's next socket is closed with 4429 while other sites still connect.
"""

from __future__ import annotations

import asyncio

import aiohttp

from agent.server.app import per_origin_cap
from tests.server.conftest import ORIGIN

OTHER = "https://other.kyso.test"


def test_the_share_is_a_quarter_and_at_least_four() -> None:
    assert per_origin_cap(64) == 16
    assert per_origin_cap(8) == 4
    assert per_origin_cap(2) == 2  # never more than all
    assert per_origin_cap(1000) == 250


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    return msg.data, msg.extra


async def test_one_origin_cannot_take_every_slot(harness) -> None:
    await harness.start(allowed_origins=[ORIGIN, OTHER], max_connections=8)
    held = [await harness.client(ORIGIN) for _ in range(per_origin_cap(8))]
    extra = await harness.raw_ws(ORIGIN)
    assert await _closed(extra) == (4429, "TOO_MANY_CONNECTIONS")
    # Another site still gets in, and is answered.
    other = await harness.client(OTHER)
    assert "version" in await other.call("agent.info")
    # A slot the first origin frees is its own again (once the server has seen the close).
    await held.pop().close()
    for _ in range(100):
        again = await harness.client(ORIGIN)
        try:
            assert "version" in await again.call("agent.info")
            break
        except ConnectionError:  # refused with 4429: the close is not seen yet
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the freed slot never came back")
