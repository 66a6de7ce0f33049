"""Connection exhaustion (issue 11, point 6): silent and half-sent connections are capped per
listener and closed by the agent's own deadlines, while pages keep being answered. Real agent,
real TLS and plain sockets on loopback; small caps and timeouts come from settings.

Waiting is always on a condition (a socket closed by the agent, a counter back to zero), with
a generous bound that only guards against a hang.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import ssl
from collections.abc import Callable

import aiohttp
import pytest

from agent.server.listener import GuardedSite, Throttled, effective_cap
from tests.server.conftest import Harness

CAP = 8  # the smallest max_tcp_connections; the ping's listeners then get 4
HANG_GUARD = 60.0

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _site(harness: Harness, port: int, host: str = "127.0.0.1") -> GuardedSite:
    assert harness.agent is not None
    for site in harness.agent.sites:
        if site.name.endswith(f"{host}:{port}"):
            return site
    raise AssertionError(f"no listener {host}:{port}")


async def _until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (the bound only guards against a hang)."""
    async with asyncio.timeout(HANG_GUARD):
        while not condition():
            await asyncio.sleep(0.01)


async def _closed_by_agent(stream: Stream) -> bool:
    """Wait until the agent closes this connection; True when it did (EOF or reset)."""
    reader, _ = stream
    try:
        async with asyncio.timeout(HANG_GUARD):
            while await reader.read(65536):
                pass
    except (ConnectionError, ssl.SSLError):
        pass
    return True


def _close(streams: list[Stream]) -> None:
    for _, writer in streams:
        writer.close()


async def _silent(port: int) -> Stream:
    return await asyncio.open_connection("127.0.0.1", port)


async def _half_sent(port: int, tls: ssl.SSLContext | None = None) -> Stream:
    """A request whose headers never end (slowloris)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls, server_hostname="127.0.0.1" if tls else None
    )
    writer.write(b"GET /v1/ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port)
    await writer.drain()
    return reader, writer


def _enough_files(connections: int) -> None:
    # Both ends of every connection live in this process; stay far below its file limit.
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 2 * connections + 200 < soft, f"open-file limit {soft} too low for this test"


async def test_connections_past_the_cap_are_closed_at_once_and_pages_still_work(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    ping_port = _free_port()
    # Deadlines far away: only the cap can close a connection during this test.
    await harness.start(max_tcp_connections=CAP, header_timeout_seconds=300, ping_port=ping_port)
    page = await harness.client()  # a page that was connected before the flood
    https, ping = _site(harness, harness.port), _site(harness, ping_port)
    assert (https.cap, ping.cap) == (CAP, 4)
    _enough_files(4 * CAP)
    caplog.set_level(logging.WARNING, logger="agent.server.listener")

    flood: list[Stream] = []
    try:
        for site, port in ((https, harness.port), (ping, ping_port)):
            held = [await _silent(port) for _ in range(site.cap - site.open)]
            flood += held
            await _until(lambda site=site: site.open == site.cap)
            beyond = [await _silent(port) for _ in range(site.cap)]
            flood += beyond
            for stream in beyond:
                assert await _closed_by_agent(stream)
            assert site.refused_full == site.cap
            assert not any(reader.at_eof() for reader, _ in held)  # the first ones stay
        # The page that was already connected is answered throughout.
        assert (await page.call("agent.info"))["name"] == "Kyso"
        full = [r for r in caplog.records if "connection limit reached" in r.getMessage()]
        assert len(full) == 2  # one line per listener, not one per refused connection
        assert {r.levelname for r in full} == {"WARNING"}
    finally:
        _close(flood)
    # Once the flood goes away, new pages and the ping are served again.
    await _until(lambda: https.open == 1 and ping.open == 0)  # only the page is left
    assert (await (await harness.client()).call("agent.info"))["name"] == "Kyso"
    response = await harness.session.get(f"http://127.0.0.1:{ping_port}/v1/ping")
    assert response.status == 204
    assert harness.prompter.prompts == []


async def test_silent_and_half_sent_connections_are_dropped_by_the_agent(
    harness: Harness,
) -> None:
    ping_port = _free_port()
    # A long keep-alive: what closes these connections is the header deadline alone.
    await harness.start(
        max_tcp_connections=CAP,
        header_timeout_seconds=1,
        idle_timeout_seconds=3600,
        ping_port=ping_port,
    )
    page = await harness.client()
    https, ping = _site(harness, harness.port), _site(harness, ping_port)
    base = https.open  # the page's own connection
    _enough_files(4 * CAP)
    flood: list[Stream] = []
    try:
        # Within the caps (8 for HTTPS, the page included; 4 for the ping).
        for _ in range(3):
            flood.append(await _silent(harness.port))  # never starts TLS
            flood.append(await _half_sent(harness.port, harness.client_ssl))  # TLS, then slow
        for _ in range(2):
            flood.append(await _silent(ping_port))  # never sends a byte
            flood.append(await _half_sent(ping_port))
        assert (await page.call("agent.info"))["name"] == "Kyso"
        results = await asyncio.gather(*(_closed_by_agent(s) for s in flood))
        assert all(results)  # every one of them was closed by the agent, none by us
    finally:
        _close(flood)
    await _until(lambda: https.open == base and ping.open == 0)
    assert (await page.call("agent.info"))["name"] == "Kyso"  # the page was never dropped
    assert (await (await harness.client()).call("agent.info"))["name"] == "Kyso"
    response = await harness.session.get(f"http://127.0.0.1:{ping_port}/v1/ping")
    assert response.status == 204


async def test_an_idle_keep_alive_connection_is_closed(harness: Harness) -> None:
    ping_port = _free_port()
    await harness.start(idle_timeout_seconds=1, header_timeout_seconds=300, ping_port=ping_port)
    reader, writer = await asyncio.open_connection("127.0.0.1", ping_port)
    writer.write(b"GET /v1/ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % ping_port)
    await writer.drain()
    status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 204")
    # A keep-alive connection with no next request: closed after idle_timeout_seconds.
    assert await _closed_by_agent((reader, writer))
    writer.close()
    await _until(lambda: _site(harness, ping_port).open == 0)


async def test_a_websocket_that_stops_answering_pings_is_closed(harness: Harness) -> None:
    await harness.start(ws_heartbeat_seconds=2)
    https = _site(harness, harness.port)
    ws = await harness.raw_ws(autoping=False)  # a page whose machine went to sleep
    assert https.open == 1
    async with asyncio.timeout(HANG_GUARD):
        while (await ws.receive()).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            pass  # pings arrive and are never answered
    await _until(lambda: https.open == 0)


def test_the_cap_stays_far_below_the_file_limit() -> None:
    assert effective_cap(128, 1024) == 128
    assert effective_cap(128, 256) == 32  # a low ulimit lowers the cap
    assert effective_cap(4096, 1 << 20) == 4096
    assert effective_cap(128, 16) == 4


def test_the_cap_warning_is_logged_once_then_summarised(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("agent.server.listener.time.monotonic", lambda: now[0])
    throttled = Throttled(interval=60.0)
    with caplog.at_level(logging.WARNING, logger="agent.server.listener"):
        for _ in range(5):
            throttled.warning("limit reached on %s", "x")
        now[0] += 61
        throttled.warning("limit reached on %s", "x")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "limit reached on x",
        "limit reached on x (4 more since the last such message)",
    ]
