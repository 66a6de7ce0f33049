"""The plain-http ping (GET /v1/ping -> 204): what it answers, what it refuses, and that it can
never stop the agent from starting. Real agent, real sockets, plain aiohttp client."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from tests.server.conftest import ORIGIN, Harness


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _ping(
    port: int,
    method: str = "GET",
    path: str = "/v1/ping",
    *,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> tuple[aiohttp.ClientResponse, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://{host}:{port}{path}", headers=headers or {}) as response,
    ):
        return response, await response.read()


@pytest.fixture
async def pinged(harness: Harness) -> Harness:
    """An agent serving the ping on a free port."""
    await harness.start(ping_port=_free_port())
    return harness


@pytest.mark.parametrize(
    "origin", [None, ORIGIN, "https://evil.example", "null", "http://localhost:8080"]
)
async def test_ping_answers_204_without_body_or_cors_for_any_origin(
    pinged: Harness, origin: str | None
) -> None:
    port = pinged.agent.ping_port
    assert port is not None
    response, body = await _ping(port, headers={"Origin": origin} if origin else None)
    assert response.status == 204 and body == b""
    assert response.headers["Cache-Control"] == "no-store"
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert pinged.prompter.prompts == []  # nobody is asked anything


async def test_ping_answers_on_ipv6_and_localhost_names(pinged: Harness) -> None:
    port = pinged.agent.ping_port
    response, _ = await _ping(port, host="[::1]")
    assert response.status == 204
    response, _ = await _ping(port, headers={"Host": f"localhost:{port}"})
    assert response.status == 204


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:1", "attacker.test", "127.0.0.1.nip.io:{port}"]
)
async def test_dns_rebinding_host_gets_421(pinged: Harness, host: str) -> None:
    port = pinged.agent.ping_port
    response, body = await _ping(port, headers={"Host": host.format(port=port)})
    assert response.status == 421 and body == b""
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize("path", ["/", "/v1/info", "/v1/ws", "/v1/ping/", "/v1/pingx"])
async def test_other_paths_are_404(pinged: Harness, path: str) -> None:
    response, _ = await _ping(pinged.agent.ping_port, path=path)
    assert response.status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_other_methods_are_refused(pinged: Harness, method: str) -> None:
    response, _ = await _ping(pinged.agent.ping_port, method, headers={"Origin": ORIGIN})
    assert response.status == 405
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_info_over_https_names_the_ping_port(pinged: Harness) -> None:
    response = await pinged.http("GET")
    assert (await response.json())["ping_port"] == pinged.agent.ping_port


async def test_ping_port_0_turns_it_off(harness: Harness) -> None:
    agent = await harness.start(ping_port=0)
    assert agent.ping_port is None
    response = await harness.http("GET")
    assert (await response.json())["ping_port"] is None


async def test_a_taken_ping_port_does_not_stop_the_agent(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as squatter:  # another program holds the ping port
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        taken = squatter.getsockname()[1]
        agent = await harness.start(ping_port=taken)
        assert agent.ping_port is None
        assert f"ping port {taken} is not available" in caplog.text
        client = await harness.client()  # the agent itself works
        assert (await client.call("agent.info"))["ping_port"] is None


async def test_stop_closes_the_ping(harness: Harness) -> None:
    agent = await harness.start(ping_port=_free_port())
    port = agent.ping_port
    await agent.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _ping(port)
