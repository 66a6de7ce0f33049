"""Starting the agent: port fallbacks, `kyso-agent run` as a real process, consent content, a
50 MB document, and the pure Host/Origin/CORS rules."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from agent.errors import KysoError
from agent.server.origin import OriginVerdict, classify_origin, cors_headers, host_allowed
from agent.server.runner import bind_loopback
from agent.ui.api import ConsentRequest
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN
from tests.server.test_methods import b64, dossier

ROOT = Path(__file__).resolve().parents[2]


def test_port_fallbacks_take_the_first_free_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with socket.socket() as probe:  # a port that is free right now
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        port, sockets = bind_loopback((busy, free))
        try:
            assert port == free
            assert {s.getsockname()[0] for s in sockets} <= {"127.0.0.1", "::1"}
        finally:
            for s in sockets:
                s.close()
        with pytest.raises(KysoError) as info:
            bind_loopback((busy,))
        assert info.value.code == "PORT_UNAVAILABLE" and str(busy) in info.value.message_en


async def test_replies_are_not_held_back_by_nagle() -> None:
    # asyncio disables Nagle only on sockets created with proto IPPROTO_TCP; the agent's own
    # listening sockets must be such, or every reply waits on the previous one's ACK.
    import asyncio

    port, sockets = bind_loopback((0,))
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.put_nowait(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    servers = [await asyncio.start_server(on_connect, sock=s) for s in sockets]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        # Wait for the server side to have seen the connection (no fixed sleep).
        nodelay = await asyncio.wait_for(accepted.get(), 30)
        writer.close()
        assert nodelay
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


async def test_the_agents_own_connections_have_nagle_off(agent) -> None:
    # The agent accepts connections itself (listener.py); they must keep TCP_NODELAY too.
    client = await agent.client()
    assert (await client.call("agent.info"))["name"] == "Kyso"
    (handler,) = agent.agent.runner.server.connections
    sock = handler.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_kyso_agent_run_serves_until_sigterm(demo, tmp_path: Path) -> None:
    env = {**os.environ, "KYSO_POLICY_FILE": str(tmp_path / "none.toml")}
    answers = tmp_path / "answers.json"
    answers.write_text("{}")
    with socket.socket() as probe:  # a free port for the plain-http ping (not the real 27442)
        probe.bind(("127.0.0.1", 0))
        ping_port = probe.getsockname()[1]
    argv = [
        sys.executable,
        "-m",
        "agent.cli.main",
        "run",
        "--headless",
        "--port",
        "0",
        "--ping-port",
        str(ping_port),
        "--json",
        "--allow-origin",
        ORIGIN,
        "--prompter",
        f"scripted:{answers}",
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = ""
        while not text.rstrip().endswith("}"):
            line = proc.stdout.readline().decode()
            assert line, proc.stderr.read().decode()
            text += line
        ready = json.loads(text)
        assert ready["url"] == f"wss://127.0.0.1:{ready['port']}/v1/ws"
        assert ready["scripted_prompter"] is True
        ca = Path(env["KYSO_HOME"]) / "data" / "tls" / "ca.pem"
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(ready["info"], context=context, timeout=10) as response:
            info = json.loads(response.read())
        assert info["port"] == ready["port"] and info["scripted_prompter"] is True
        assert ready["ping_port"] == info["ping_port"] == ping_port
        ping = f"http://127.0.0.1:{ping_port}/v1/ping"
        with urllib.request.urlopen(ping, timeout=10) as response:
            assert response.status == 204 and response.read() == b""
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert "SCRIPTED PROMPTER" in proc.stderr.read().decode()  # said loudly in the log


class RecordingPrompter:
    """Wraps the real scripted prompter and keeps the consent requests it was shown."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[ConsentRequest] = []

    async def pair(self, request):
        return await self.inner.pair(request)

    async def choose_certificate(self, request):
        return await self.inner.choose_certificate(request)

    async def consent(self, request: ConsentRequest) -> bool:
        self.requests.append(request)
        return await self.inner.consent(request)

    async def get_pin(self, request):
        return await self.inner.get_pin(request)


async def test_consent_shows_origin_certificate_and_a_human_summary(demo, harness) -> None:
    recording = RecordingPrompter(harness.prompter)
    harness.prompter = recording
    await harness.start()
    client = await harness.client()
    document = dossier()
    org = cert_thumbprint(demo, "org")
    await client.call("sign.xml", {"document": b64(document), "certificate": org})
    await client.call("auth.challenge", {"nonce": "n" * 43, "certificate": org})
    items = [
        {"kind": "hash", "digest": b64(hashlib.sha256(b"%d" % i).digest()), "label": f"Tệp {i}"}
        for i in range(3)
    ]
    await client.call("sign.batch", {"items": items, "certificate": org})
    xml, challenge, batch = recording.requests
    assert xml.origin == ORIGIN and xml.action == "sign.xml"
    assert xml.certificate.mst == "0101234567" and xml.certificate.thumbprint == org
    assert xml.items[0].sha256 == hashlib.sha256(document).hexdigest()
    shown = " ".join([xml.items[0].title, *(f"{k} {v}" for k, v in xml.items[0].lines)])
    assert "600" in shown and "0101234567" in shown and "D02-TS" in shown
    assert challenge.items[0].title == f"Đăng nhập / xác nhận thay đổi tài khoản trên {ORIGIN}"
    assert challenge.summary_vi.endswith(ORIGIN)
    # A bare hash is titled as such; the page's label is only a line under the warning.
    assert {i.title for i in batch.items} == {batch.items[0].title}
    assert "băm" in batch.items[0].title and "hash" in batch.items[0].title
    assert [dict(i.lines)["Trang web gọi là / the site calls it"] for i in batch.items] == [
        "Tệp 0",
        "Tệp 1",
        "Tệp 2",
    ]
    assert batch.summary_vi == f"Ký 3 tài liệu cho {ORIGIN}"


async def test_a_50_mb_document_fits_by_default(demo, agent) -> None:
    client = await agent.client()
    data = os.urandom(1024) * (50 * 1024)  # 50 MB
    reply = await client.request(
        "sign.cms",
        {"data": base64.b64encode(data).decode(), "certificate": cert_thumbprint(demo, "org")},
    )
    assert "result" in reply, reply
    assert agent.audit_lines()[-1]["sha256"] == hashlib.sha256(data).hexdigest()


def test_host_origin_and_cors_rules() -> None:
    assert host_allowed("127.0.0.1:27443", 27443) and host_allowed("LOCALHOST:27443", 27443)
    assert host_allowed("[::1]:27443", 27443)
    for bad in (None, "", "127.0.0.1", "127.0.0.1:27444", "evil:27443", "[::2]:27443"):
        assert not host_allowed(bad, 27443)
    allowed = {ORIGIN}
    assert classify_origin(ORIGIN, allowed=allowed) == (OriginVerdict.ALLOWED, ORIGIN)
    # Only the form a browser sends: a default port, a "/" or capitals are another spelling.
    for spelling in (ORIGIN + ":443", ORIGIN + "/", ORIGIN.upper(), " " + ORIGIN, ORIGIN + "\t"):
        assert classify_origin(spelling, allowed=allowed) == (OriginVerdict.REFUSED, None)
    assert classify_origin("https://new.vn", allowed=allowed)[0] is OriginVerdict.ASK
    assert (
        classify_origin("https://new.vn", allowed=allowed, denied={"https://new.vn"})[0]
        is OriginVerdict.REFUSED
    )
    assert (
        classify_origin("https://new.vn", allowed=allowed, allow_user_origins=False)[0]
        is OriginVerdict.REFUSED
    )
    assert classify_origin("http://localhost:3000", allowed=allowed)[0] is OriginVerdict.REFUSED
    verdict = classify_origin(
        "http://localhost:3000", allowed={"http://localhost:3000"}, allow_http_localhost=True
    )
    assert verdict[0] is OriginVerdict.ALLOWED
    headers = cors_headers(
        ORIGIN, {"Access-Control-Request-Private-Network": "true"}, preflight=True
    )
    assert headers["Access-Control-Allow-Origin"] == ORIGIN and headers["Vary"] == "Origin"
    assert headers["Access-Control-Allow-Private-Network"] == "true"
    assert "Access-Control-Allow-Private-Network" not in cors_headers(ORIGIN, {}, preflight=True)


async def test_ipv6_loopback_and_localhost_names_work(agent) -> None:
    for host in (f"[::1]:{agent.port}", f"localhost:{agent.port}"):
        ws = await agent.session.ws_connect(
            f"wss://{host}/v1/ws", ssl=agent.client_ssl, headers={"Origin": ORIGIN}
        )
        await ws.send_str('{"jsonrpc": "2.0", "id": 1, "method": "agent.info"}')
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply["result"]["origin"] == ORIGIN
        await ws.close()


def test_doctor_shows_port_trust_and_the_source_of_each_setting(demo, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'allowed_origins = ["https://dichvucong.baohiemxahoi.gov.vn"]\nport = 27999\n'
        "ping_port = 0\n"
    )
    env = {**os.environ, "KYSO_POLICY_FILE": str(policy)}
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "doctor", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    report = json.loads(proc.stdout)["agent"]
    settings = {row["setting"]: row for row in report["settings"]}
    assert settings["port"]["value"] == 27999 and settings["port"]["source"] == "policy"
    assert settings["prompter"]["source"] == "default"
    assert settings["ping_port"]["value"] == 0 and settings["ping_port"]["source"] == "policy"
    assert report["policy"] == str(policy) and report["ports"] == [27999]
    assert report["running"] is None  # nothing listens on 27999
    assert report["allowed_origins"] == [
        {"origin": "https://dichvucong.baohiemxahoi.gov.vn", "source": "policy"}
    ]
    assert "stores" in report["trust"] or "error" in report["trust"]
