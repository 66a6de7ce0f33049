"""Terminal servers (issue 17, point 3): a per-machine ``port_range``, each user's agent on its
own port of it, and ``GET /v1/port`` on the ping telling a page of the *same* OS user where its
agent is. A real second OS user (useradd + runuser, as in test_accept_peer.py) holds a listener
in the range: the kernel's socket table is the real part the lookup reads."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import pytest

from agent.config.policy import registry_policy
from agent.config.settings import Settings, merge_layers, parse_layer
from agent.errors import KysoError
from agent.peercred import listening_port, parse_proc_net_tcp
from agent.server import runner
from agent.server.ports import candidate_ports, range_candidates
from tests.server.conftest import ORIGIN, Harness
from tests.server.test_accept_peer import _other_user


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _free_range(size: int = 16) -> range:
    """A run of ports free right now on 127.0.0.1 (outside the kernel's ephemeral range)."""
    for _ in range(200):
        lo = random.randrange(20000, 30000)
        ports = range(lo, lo + size)
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return ports
    raise AssertionError("no free port range")


def _settings(**layer: object) -> Settings:
    return merge_layers({"command line": parse_layer(layer, code="CONFIG_INVALID", path="t")})


# ---- settings and the order of ports ----------------------------------------------------------


def test_port_range_setting_is_validated() -> None:
    assert _settings(port_range=" 27450-27549 ").port_range_ports == range(27450, 27550)
    assert _settings().port_range_ports is None
    for bad in ("27450", "27549-27450", "80-90", "27450-x", "1-2-3", 27450, "20000-30000"):
        with pytest.raises(KysoError) as caught:
            _settings(port_range=bad)
        assert caught.value.code == "CONFIG_INVALID"
        assert "port_range" in caught.value.message_en


def test_port_range_comes_from_the_registry_policy() -> None:
    class Reader:
        def values(self, key: str) -> dict[str, object] | None:
            return {"PortRange": "27450-27549"} if key.endswith("Agent") else None

    assert registry_policy(Reader()) == {"port_range": "27450-27549"}


def test_single_user_default_is_unchanged() -> None:
    assert candidate_ports(_settings()) == (27443, 27444, 27445)
    # An explicit port wins over the range.
    assert candidate_ports(_settings(port=27500, port_range="27450-27549")) == (27500,)


def test_each_user_gets_a_stable_first_choice_and_every_port_once() -> None:
    ports = range(27450, 27550)
    orders = {key: range_candidates(ports, key) for key in ("1000", "1001", "S-1-5-21-1-2-3-1001")}
    for order in orders.values():
        assert sorted(order) == list(ports)
        # The order is the range rotated: after the first choice, the next ports in turn.
        start = order[0]
        assert order[: 27550 - start] == tuple(range(start, 27550))
    assert range_candidates(ports, "1000") == orders["1000"]  # the same at every log-in
    assert len({order[0] for order in orders.values()}) == 3  # users spread over the range
    assert 27460 not in range_candidates(ports, "1000", skip=27460)


LISTENERS = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:6B5C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 11 1
   1: 0100007F:6B5B 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 12 1
   2: 0100007F:6B5A 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1001        0 13 1
   3: 00000000:6B59 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 14 1
   4: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 15 1
"""


def test_a_users_listener_is_found_by_uid_state_address_and_range() -> None:
    entries = parse_proc_net_tcp(LISTENERS)
    ports = range(27450, 27550)
    assert listening_port(entries, 1001, ports) == 0x6B5B  # 27483, listening on 127.0.0.1
    assert listening_port(entries, 1002, ports) == 0x6B5C
    # Not listening (an established connection), on 0.0.0.0, or outside the range: not found.
    assert listening_port(entries, 1001, range(0x6B59, 0x6B5B)) is None
    assert listening_port(entries, 1003, ports) is None


# ---- a real agent in a range ------------------------------------------------------------------


async def test_the_agent_takes_its_first_choice_then_the_next_free_port(harness: Harness) -> None:
    ports = _free_range()
    order = candidate_ports(_settings(port_range=f"{ports[0]}-{ports[-1]}"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", order[0]))
        squatter.listen()
        await harness.start(port=None, port_range=f"{ports[0]}-{ports[-1]}")
        assert harness.port == order[1]
    client = await harness.client()
    assert (await client.call("agent.info"))["name"] == "Kyso"


async def _get(
    port: int, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{port}{path}", headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def test_the_port_answer_is_readable_only_by_an_allowed_origin(harness: Harness) -> None:
    ports = _free_range()
    ping = _free_port()
    await harness.start(port=None, port_range=f"{ports[0]}-{ports[-1]}", ping_port=ping)
    status, headers, body = await _get(ping, "/v1/port", Origin=ORIGIN)
    assert status == 200 and json.loads(body) == {"port": harness.port}
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    for origin in ("https://evil.example", "null"):
        status, headers, body = await _get(ping, "/v1/port", Origin=origin)
        assert status == 403 and body == b""
        assert not [h for h in headers if h.lower().startswith("access-control-")]
    status, headers, _ = await _get(ping, "/v1/port")  # no Origin (a no-cors request)
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = await _get(
        ping,
        "/v1/port",
        "OPTIONS",
        Origin=ORIGIN,
        **{"Access-Control-Request-Private-Network": "true"},
    )
    assert status == 204 and headers["Access-Control-Allow-Private-Network"] == "true"
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    # The plain ping is unchanged: an empty 204 without CORS.
    status, headers, body = await _get(ping, "/v1/ping", Origin=ORIGIN)
    assert status == 204 and body == b"" and "Access-Control-Allow-Origin" not in headers
    assert harness.prompter.prompts == []


async def test_single_user_agent_answers_its_own_port(harness: Harness) -> None:
    ping = _free_port()
    await harness.start(ping_port=ping)
    status, _, body = await _get(ping, "/v1/port", Origin=ORIGIN)
    assert status == 200 and json.loads(body) == {"port": harness.port}


# The second OS user: listens in the range as its "agent" would (or not), then asks the ping.
PROBE = r"""
import json, socket, sys
ping, lo, hi, origin, listen = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def ask(path):
    try:
        with socket.create_connection(("127.0.0.1", ping), timeout=20) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: %s\r\nConnection: close\r\n\r\n" % (path, ping, origin)).encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data.split(b"\r\n", 1)[0].decode() + " " + data.split(b"\r\n\r\n", 1)[-1].decode() if data else "refused: EOF"
    except OSError as exc:
        return "refused: " + type(exc).__name__
mine = None
if listen == "yes":
    for port in range(lo, hi + 1):
        try:
            mine = socket.socket(); mine.bind(("127.0.0.1", port)); mine.listen(); break
        except OSError:
            mine.close(); mine = None
print(json.dumps({"mine": mine.getsockname()[1] if mine else None, "port": ask("/v1/port"), "ping": ask("/v1/ping")}))
"""


async def _probe_as(user: str, argv: list[str]) -> dict:
    proc = await asyncio.create_subprocess_exec(
        "runuser", "-u", user, "--", "/usr/bin/python3", *argv, stdout=subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return json.loads(out)


async def test_another_user_is_told_its_own_port_never_ours(harness: Harness) -> None:
    user = _other_user()
    ports = _free_range()
    ping = _free_port()
    await harness.start(port=None, port_range=f"{ports[0]}-{ports[-1]}", ping_port=ping)
    shared = Path(tempfile.mkdtemp(prefix="kyso-range-"))
    try:
        shared.chmod(0o755)
        (shared / "probe.py").write_text(PROBE)
        argv = [str(shared / "probe.py"), str(ping), str(ports[0]), str(ports[-1]), ORIGIN]
        seen = await _probe_as(user, [*argv, "yes"])
        assert seen["mine"] in ports and seen["mine"] != harness.port
        assert seen["port"] == f'HTTP/1.1 200 OK {{"port": {seen["mine"]}}}'
        assert seen["ping"].startswith("HTTP/1.1 204")
        # A user with no listener in the range learns nothing: refused before any byte.
        seen = await _probe_as(user, [*argv, "no"])
        assert seen["port"].startswith("refused") and seen["ping"].startswith("refused"), seen
        # Ourselves: our own port.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv, "no", stdout=subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert json.loads(out)["port"] == f'HTTP/1.1 200 OK {{"port": {harness.port}}}'
    finally:
        shutil.rmtree(shared)
    assert harness.prompter.prompts == []


async def test_a_freed_ping_port_is_taken_over(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machine's ping port was held (another user's agent, who then logs off): the agent
    takes it over, so every user's page is answered again."""
    monkeypatch.setattr(runner, "PING_RETRY_SECONDS", 0.02)
    ports = _free_range()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    ping = holder.getsockname()[1]
    try:
        agent = await harness.start(port=None, port_range=f"{ports[0]}-{ports[-1]}", ping_port=ping)
        assert agent.ping_port is None and agent.ping_takeover is not None
    finally:
        holder.close()
    await asyncio.wait_for(agent.ping_takeover, 30)
    assert agent.ping_port == ping
    status, _, body = await _get(ping, "/v1/port", Origin=ORIGIN)
    assert status == 200 and json.loads(body) == {"port": harness.port}
    info = await (await harness.client()).call("agent.info")
    assert info["ping_port"] == ping


async def test_single_user_never_retries_a_taken_ping_port(harness: Harness) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        agent = await harness.start(ping_port=holder.getsockname()[1])
        assert agent.ping_port is None and agent.ping_takeover is None
