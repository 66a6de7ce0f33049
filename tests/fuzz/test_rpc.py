"""Fuzzing the JSON-RPC layer through the real agent: WSS, middleware, parser, schemas, commands.

One agent per module, in-process (its own event loop on a thread, so Hypothesis drives plain
functions), over SoftHSM2 tokens with the real scripted prompter. Every frame a page can send
must end in a JSON-RPC result or an error with a code from agent/errors.py — never
INTERNAL_ERROR (a crash the connection caught), never a dropped connection or a hang, and for
anything the schemas refuse, never a prompt: ``prompter.prompts`` stays empty.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import ssl
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from agent.errors import ERRORS, KysoError
from agent.localtls import ensure_server_certificate, ssl_context
from agent.server import rpc
from agent.server.approvals import ApprovalStore
from agent.server.audit import AuditLog
from agent.server.context import Services
from agent.server.runner import serve
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService
from agent.ui.scripted import ScriptedPrompter
from tests.server.conftest import ORIGIN, make_settings

SCHEMAS = Path(rpc.__file__).parent / "schema"
METHODS = sorted(p.name.removesuffix(".json") for p in SCHEMAS.glob("*.json"))
SIGNING = {m for m in METHODS if m.startswith(("sign.", "auth."))}
# Every property name any schema knows (nested ones too), plus PIN spellings and oddities.
KEYS = sorted(
    set(
        key
        for path in SCHEMAS.glob("*.json")
        for key in __import__("re").findall(r'"([A-Za-z_][A-Za-z0-9_]*)":', path.read_text())
    )
    | {"pin", "PIN", "userPin", "__proto__", "constructor", "", "đ"}
)
CALL_TIMEOUT = 60  # a bound against a hang, not a timing: a normal reply takes milliseconds


class LiveAgent:
    """The agent and one WSS client, on an event loop of their own."""

    def __init__(self, demo: dict[str, Any], root: Path) -> None:
        self.root = root
        self.messages: list[dict[str, Any]] = []
        self.bad_frames: list[str] = []
        self._ids = itertools.count(1)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-agent")
        self.thread.start()
        self.call(self._start(demo))

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the agent's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT)

    async def _start(self, demo: dict[str, Any]) -> None:
        self.tokens = TokenService(
            [ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)]
        )
        await self.tokens.start(monitor=False)
        answers = self.root / "answers.json"
        # Whatever would be asked is refused: a prompt is recorded, and the test fails on it.
        answers.write_text(json.dumps({"pair": "deny", "consent": "deny", "pin": None}))
        self.prompter = ScriptedPrompter(answers)
        services = Services(
            self.tokens,
            self.prompter,
            ApprovalStore(self.root / "approvals.json"),
            AuditLog(self.root / "audit.jsonl"),
        )
        cert = ensure_server_certificate(self.root / "tls")
        self.agent = await serve(make_settings(), services=services, tls=ssl_context(cert))
        self.session = aiohttp.ClientSession()
        client_ssl = ssl.create_default_context(cafile=str(cert.ca_cert_path))
        self.ws = await self.session.ws_connect(
            f"wss://127.0.0.1:{self.agent.port}/v1/ws", ssl=client_ssl, headers={"Origin": ORIGIN}
        )
        self.arrived = asyncio.Condition()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            try:
                self.messages.append(json.loads(msg.data))
            except ValueError:
                self.bad_frames.append(msg.data[:200])
            async with self.arrived:
                self.arrived.notify_all()

    async def _exchange(self, frame: str | bytes) -> list[dict[str, Any]]:
        start = len(self.messages)
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)
        # A request sent after the frame: its answer proves the connection still works, and
        # (frames being read in order) that every immediate answer to the frame has come.
        sentinel = f"sentinel-{next(self._ids)}"
        await self.ws.send_str(
            json.dumps({"jsonrpc": "2.0", "id": sentinel, "method": "agent.info"})
        )

        def answered() -> bool:
            return any(m.get("id") == sentinel for m in self.messages[start:])

        async with self.arrived:
            await self.arrived.wait_for(lambda: answered() or self.reader.done())
        assert answered(), f"the connection closed ({self.ws.close_code}) after {frame[:200]!r}"
        return [m for m in self.messages[start:] if m.get("id") != sentinel]

    def exchange(self, frame: str | bytes) -> list[dict[str, Any]]:
        """Send one frame; the messages that came back before the sentinel's answer."""
        replies = self.call(self._exchange(frame))
        for message in replies:
            check_message(message)
        assert not self.bad_frames, self.bad_frames
        assert self.prompter.prompts == [], (frame[:200], self.prompter.prompts)
        return replies

    async def _stop(self) -> None:
        await self.ws.close()
        await self.reader
        await self.session.close()
        await self.agent.stop()
        await self.tokens.close()

    def close(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(CALL_TIMEOUT)
            self.loop.close()


def check_message(message: dict[str, Any]) -> None:
    """A JSON-RPC 2.0 response with a result, or an error carrying a known, non-crash code."""
    assert message.get("jsonrpc") == "2.0", message
    if "id" not in message:  # a notification from the agent (tokens.changed)
        assert isinstance(message.get("method"), str), message
        return
    assert ("result" in message) != ("error" in message), message
    if "error" in message:
        error = message["error"]
        assert isinstance(error["code"], int) and isinstance(error["message"], str), message
        code = error["data"]["code"]
        assert code in ERRORS, message
        assert code != "INTERNAL_ERROR", message  # an exception the connection had to catch
        assert error["data"]["message_vi"], message


@pytest.fixture(scope="module")
def live(demo: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAgent]:
    agent = LiveAgent(demo, tmp_path_factory.mktemp("fuzz-agent"))
    try:
        yield agent
    finally:
        agent.close()


# ---- strategies ---------------------------------------------------------------------------------

_b64 = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | _b64
    | st.sampled_from(["sha256", "bhxh", "xml", "cms", "hash", "pdf", "ab" * 32, "x" * 44])
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)
request_ids = st.integers(-(2**64), 2**64) | st.text(max_size=130) | st.none() | st.booleans()


@st.composite
def envelopes(draw: st.DrawFn) -> str:
    message: dict[str, Any] = {
        "jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2.0, None])),
        "id": draw(request_ids),
        "method": draw(st.sampled_from([*METHODS, "no.such", "", "sign", "agent.info "])),
        "params": draw(
            st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6) | json_values
        ),
    }
    for key in draw(st.sets(st.sampled_from(sorted(message)), max_size=2)):
        del message[key]
    return json.dumps(message, ensure_ascii=draw(st.booleans()))


def would_sign(text: str) -> bool:
    """True when the agent would start this signing request (schemas accept it): the one kind
    of message that may rightly ask the user something."""
    try:
        request = rpc.parse_request(text)
    except rpc.RpcFailure:
        return False
    if request is None or request.method not in SIGNING:
        return False
    try:
        rpc.validate_params(request.method, request.params)
    except KysoError:
        return False
    return True


# ---- tests ----------------------------------------------------------------------------------------


@settings(max_examples=150)
@given(envelopes())
@example('{"jsonrpc": "2.0", "id": 1, "method": "sign.hash", "params": {"digest": 5}}')
@example('{"jsonrpc": "2.0", "id": 1, "method": "sign.batch", "params": {"items": [{}]}}')
@example('{"jsonrpc": "2.0", "id": 1, "method": "sign.xml", "params": {"document": "%%"}}')
@example('{"jsonrpc": "2.0", "id": [], "method": "agent.info"}')
@example('{"jsonrpc": "2.0", "id": 1e400, "method": "agent.info"}')
@example('{"jsonrpc": "2.0", "id": 1, "method": "sign.hash", "params": {"digest": "x", "PIN": 1}}')
def test_requests_get_a_result_or_a_known_error_and_never_a_prompt(
    live: LiveAgent, text: str
) -> None:
    assume(not would_sign(text))
    live.exchange(text)


@settings(max_examples=150)
@given(st.text(max_size=400) | st.text(alphabet='{}[]":,0123456789.eE+-tfnulr\\ ', max_size=400))
@example("")
@example("\x00")
@example("[" * 5000)
@example('{"a":' * 2000)
@example("[" + "{}," * 20000 + "{}]")
@example('"\\ud800"')
@example("NaN")
@example("[]")
@example("{}")
def test_any_text_frame_gets_an_answer_not_a_crash(live: LiveAgent, text: str) -> None:
    assume(not would_sign(text))
    live.exchange(text)


@settings(max_examples=30)
@given(st.binary(max_size=256))
def test_binary_frames_are_refused_cleanly(live: LiveAgent, data: bytes) -> None:
    replies = live.exchange(data)
    assert [r["error"]["data"]["code"] for r in replies] == ["PROTOCOL_INVALID_REQUEST"]
