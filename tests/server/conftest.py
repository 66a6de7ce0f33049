"""A real agent on an ephemeral loopback port, real TLS, real WSS clients, SoftHSM2 tokens and the
real ScriptedPrompter (its answers file is rewritten by each test)."""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.config.settings import Settings, merge_layers, parse_layer
from agent.localtls import ServerCertificate, ensure_server_certificate, ssl_context
from agent.server.approvals import ApprovalStore
from agent.server.audit import AuditLog
from agent.server.context import Services
from agent.server.runner import RunningAgent, serve
from agent.ui.scripted import ScriptedPrompter

ORIGIN = "https://portal.kyso.test"
PIN = "123456"


def make_settings(**overrides: Any) -> Settings:
    """Settings as if given on the command line (port 0 = any free port; no plain-http ping
    unless a test asks for one, so tests never take the real ping port 27442). The test portal
    is configured for sign.hash, which is off by default (tests/server/test_raw_hash.py)."""
    layer = {
        "port": 0,
        "ping_port": 0,
        "allowed_origins": [ORIGIN],
        "sign_hash_origins": [ORIGIN],
        **overrides,
    }
    return merge_layers({"command line": parse_layer(layer, code="CONFIG_INVALID", path="test")})


@pytest.fixture(scope="session")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    """The per-install CA and loopback certificate, made by the real local TLS code."""
    return ensure_server_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def client_ssl(server_cert: ServerCertificate) -> ssl.SSLContext:
    """A client context that trusts only the local CA (verification stays on)."""
    return ssl.create_default_context(cafile=str(server_cert.ca_cert_path))


class Answers:
    """The scripted prompter's answers file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.set()

    def set(self, **answers: Any) -> None:
        """Replace the answers (default: allow everything with the right PIN)."""
        data = {"pair": "always", "consent": "allow", "pin": PIN, **answers}
        self.path.write_text(json.dumps(data))


@pytest.fixture
def answers(tmp_path: Path) -> Answers:
    """Answers for this test."""
    return Answers(tmp_path / "answers.json")


@pytest.fixture
def prompter(answers: Answers) -> ScriptedPrompter:
    """The real scripted prompter; ``prompter.prompts`` records every prompt."""
    return ScriptedPrompter(answers.path)


class RpcClient:
    """A JSON-RPC client over one WSS connection; responses are matched by id."""

    _ids = itertools.count(1)

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.notifications: list[dict[str, Any]] = []
        self._waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.unmatched: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" not in data:
                self.notifications.append(data)
                continue
            future = self._waiting.pop(data["id"], None)
            if future is None:
                self.unmatched.append(data)
            else:
                future.set_result(data)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and wait for its response (the whole JSON-RPC message)."""
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.ws.send_str(json.dumps(message))
        response = await asyncio.wait_for(future, 60)
        assert response["id"] == request_id
        return response

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The result, or an AssertionError showing the error."""
        response = await self.request(method, params)
        assert "result" in response, response
        return response["result"]

    async def close(self) -> None:
        """Close the socket and stop reading."""
        await self.ws.close()
        await self._reader


class Harness:
    """Starts agents and opens clients; everything is closed at the end of the test."""

    def __init__(
        self,
        token_service: Any,
        prompter: ScriptedPrompter,
        client_ssl: ssl.SSLContext,
        server_cert: ServerCertificate,
        tmp_path: Path,
    ) -> None:
        self.tokens = token_service
        self.prompter = prompter
        self.client_ssl = client_ssl
        self.server_ssl = ssl_context(server_cert)
        self.tmp_path = tmp_path
        self.approvals = ApprovalStore(tmp_path / "approvals.json")
        self.audit = AuditLog(tmp_path / "audit.jsonl")
        self.agent: RunningAgent | None = None
        self.session = aiohttp.ClientSession()
        self.clients: list[RpcClient] = []

    async def start(self, **overrides: Any) -> RunningAgent:
        """Start an agent with these settings over the shared token service."""
        services = Services(self.tokens, self.prompter, self.approvals, self.audit)
        self.agent = await serve(make_settings(**overrides), services=services, tls=self.server_ssl)
        return self.agent

    @property
    def port(self) -> int:
        assert self.agent is not None
        return self.agent.port

    async def raw_ws(
        self, origin: str | None = ORIGIN, **kwargs: Any
    ) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket with this Origin (None: no Origin header at all)."""
        headers = kwargs.pop("headers", {})
        if origin is not None:
            headers["Origin"] = origin
        return await self.session.ws_connect(
            f"wss://127.0.0.1:{self.port}/v1/ws", ssl=self.client_ssl, headers=headers, **kwargs
        )

    async def client(self, origin: str = ORIGIN) -> RpcClient:
        """A connected JSON-RPC client."""
        client = RpcClient(await self.raw_ws(origin))
        self.clients.append(client)
        return client

    async def http(
        self, method: str, path: str = "/v1/info", **kwargs: Any
    ) -> aiohttp.ClientResponse:
        """An HTTPS request to the agent (the response body is read)."""
        response = await self.session.request(
            method, f"https://127.0.0.1:{self.port}{path}", ssl=self.client_ssl, **kwargs
        )
        await response.read()
        return response

    def audit_lines(self) -> list[dict[str, Any]]:
        """Every audit record written so far."""
        if not self.audit.path.exists():
            return []
        return [json.loads(line) for line in self.audit.path.read_text().splitlines()]

    async def close(self) -> None:
        for client in self.clients:
            if not client.ws.closed:
                await client.close()
        await self.session.close()
        if self.agent is not None:
            await self.agent.stop()


@pytest.fixture
async def harness(
    token_service: Any,
    prompter: ScriptedPrompter,
    client_ssl: ssl.SSLContext,
    server_cert: ServerCertificate,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    """A harness; call ``await harness.start(...)`` to get an agent."""
    h = Harness(token_service, prompter, client_ssl, server_cert, tmp_path)
    try:
        yield h
    finally:
        await h.close()


@pytest.fixture
async def agent(harness: Harness) -> Harness:
    """A harness with an agent already running on default test settings."""
    await harness.start()
    return harness


Starter = Callable[..., Awaitable[RunningAgent]]


def preselected(demo: dict[str, Any], names: tuple[str, ...]) -> tuple[str, str]:
    """Which of the demo certificates ``names`` (all usable, all matching) the picker
    preselects, and its token's PIN: the one that expires last, the first token's on a tie
    (agent.server.certificate_choice.plan_choice; the demo's certificates have no caveats,
    which would rank one after the others). The demo makes the unit's renewal on token 2
    last, so it is usually that one."""
    from cryptography import x509 as _x509

    ends = {
        name: _x509.load_pem_x509_certificate(
            Path(demo["certificates"][name]["path"]).read_bytes()
        ).not_valid_after_utc
        for name in names
    }
    ordered = sorted(names, key=lambda n: demo["certificates"][n]["token"])
    name = max(ordered, key=lambda n: ends[n])
    pins = {t["label"]: t["user_pin"] for t in demo["tokens"]}
    return name, pins[demo["certificates"][name]["token"]]


async def plug_and_unplug(harness: Harness, label: str) -> None:
    """A SoftHSM2 token inserted then removed, the token service rescanning after each: two
    ``tokens.changed`` events (inserted, removed) for every page."""
    command = ["softhsm2-util", "--init-token", "--free", "--label", label]
    subprocess.run(
        [*command, "--pin", "111111", "--so-pin", "222222"], check=True, capture_output=True
    )
    try:
        await harness.tokens.rescan()
    finally:
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", label], check=True, capture_output=True
        )
    await harness.tokens.rescan()
