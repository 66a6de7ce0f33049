"""Lone UTF-16 surrogates: valid JSON ("\\ud800"), but no text (docs/security.md, threat table).

Such a string cannot be encoded to send, log or show: it once reached the consent and the PIN,
then the answer and the audit record failed after the key had signed. The parser now refuses
any lone surrogate anywhere in a message (PROTOCOL_PARSE_ERROR) before anything looks at it;
an escaped pair (an emoji) is one character and still works. The audit writer never raises on
content, so one bad record cannot lose the records grouped with it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent.audit import AuditLog, AuditRecord
from agent.server.connection import Connection
from agent.server.rpc import RpcFailure, parse_request
from tests.conftest import cert_thumbprint

DIGEST = base64.b64encode(bytes(32)).decode()


def _message(id_text: str = '"1"', params: str = "{}") -> str:
    return f'{{"jsonrpc":"2.0","id":{id_text},"method":"sign.hash","params":{params}}}'


@pytest.mark.parametrize(
    "text",
    [
        _message(id_text='"x\\ud800"'),  # the request id
        _message(id_text='"x\\uDFFF"'),  # upper case, a low surrogate
        _message(params='{"reason":"ok \\udc00 ok"}'),  # a value
        _message(params='{"k\\ud83d":1}'),  # a key
        _message(params='{"items":[{"label":["a","\\ude00"]}]}'),  # deep in a batch
        _message(params='{"reason":"\\ude00\\ud83d"}'),  # a pair in the wrong order
    ],
)
def test_a_lone_surrogate_anywhere_is_a_parse_error(text: str) -> None:
    for raw in (text, text.encode()):
        with pytest.raises(RpcFailure) as caught:
            parse_request(raw)
        assert caught.value.error.code == "PROTOCOL_PARSE_ERROR"
        assert caught.value.id is None  # the id itself may be the bad string


def test_surrogate_bytes_in_a_binary_message_are_refused_too() -> None:
    # json.loads decodes bytes with "surrogatepass": 0xED 0xA0 0x80 would become "\ud800".
    with pytest.raises(RpcFailure):
        parse_request(b'{"jsonrpc":"2.0","id":"\xed\xa0\x80","method":"sign.hash"}')


def test_an_escaped_pair_and_an_escaped_backslash_are_fine() -> None:
    emoji = parse_request(
        _message(id_text='"a\\ud83d\\ude00"', params='{"reason":"\\uD83D\\uDE00"}')
    )
    assert emoji is not None and emoji.id == "a\U0001f600"
    assert emoji.params["reason"] == "\U0001f600"
    literal = parse_request(_message(id_text='"\\\\ud800"'))  # the six characters \ud800
    assert literal is not None and literal.id == "\\ud800"


def test_one_unencodable_record_loses_no_other_record_of_its_group(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    good = AuditRecord(origin="https://portal.kyso.test", method="sign.xml", result="OK")
    bad = AuditRecord(
        origin="https://portal.kyso.test",
        method="sign.hash",
        result="OK",
        request_id="x\ud800",
        file="h\udcf4.xml",
    )
    assert log.write_many([good, bad, good])
    lines = log.path.read_bytes().decode("utf-8").splitlines()  # valid UTF-8 throughout
    records = [json.loads(line) for line in lines]
    assert len(records) == 3
    assert records[1]["request_id"] == "x\ud800"  # written as the JSON escape, read back as is
    assert records[1]["file"] == "h\udcf4.xml"


async def test_a_surrogate_id_is_refused_before_any_prompt(demo, agent) -> None:
    ws = await agent.raw_ws()
    params = json.dumps({"digest": DIGEST, "certificate": cert_thumbprint(demo, "org")})
    await ws.send_str(_message(id_text='"x\\ud800"', params=params))
    answer = json.loads((await asyncio.wait_for(ws.receive(), 30)).data)
    assert answer["error"]["data"]["code"] == "PROTOCOL_PARSE_ERROR"
    assert agent.prompter.prompts == []  # no consent, no PIN: nothing was signed
    # The connection and the audit writer are fine: the next request is signed and recorded.
    await ws.send_str(_message(id_text='"x\\ud83d\\ude00"', params=params))
    answer = json.loads((await asyncio.wait_for(ws.receive(), 30)).data)
    assert "signature" in answer["result"], answer
    assert answer["id"] == "x\U0001f600"
    assert [r["request_id"] for r in agent.audit_lines()] == ["x\U0001f600"]
    await ws.close()


async def test_a_surrogate_in_a_pdf_reason_is_refused_before_any_prompt(demo, agent) -> None:
    ws = await agent.raw_ws()
    params = json.dumps(
        {"document": "JVBERi0=", "certificate": cert_thumbprint(demo, "org"), "reason": "@"}
    ).replace('"@"', '"ok \\ud800"')
    await ws.send_str(_message(params=params).replace("sign.hash", "sign.pdf"))
    answer = json.loads((await asyncio.wait_for(ws.receive(), 30)).data)
    assert answer["error"]["data"]["code"] == "PROTOCOL_PARSE_ERROR"
    assert agent.prompter.prompts == []
    await ws.close()


async def test_an_answer_that_cannot_be_encoded_still_goes_out_escaped() -> None:
    """The last line behind the parser: Connection.send never drops an answer over it."""
    text = '{"jsonrpc":"2.0","id":"x\ud800","result":1}'

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await Connection(ws, "https://portal.kyso.test").send(text)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
        ):
            msg = await ws.receive(timeout=30)
        assert msg.type is aiohttp.WSMsgType.TEXT
        assert json.loads(msg.data) == {"jsonrpc": "2.0", "id": "x\ud800", "result": 1}
    finally:
        await runner.cleanup()
