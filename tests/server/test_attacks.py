"""Attack cases: each must produce no signature and no prompt (the scripted prompter records
every prompt it answers, so ``prompter.prompts == []`` means nobody was asked anything)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging

import aiohttp
import pytest

from agent.config.settings import merge_layers, parse_layer
from agent.server.context import Services
from agent.server.runner import serve
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN
from tests.server.test_concurrency import GatedConsent, until

DIGEST = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
HIDDEN_DOCTYPE = base64.b64encode(
    b"<!--" + b"x" * (1 << 20) + b'--><!DOCTYPE Hoso SYSTEM "file:///etc/passwd"><Hoso/>'
).decode()


def assert_nothing_signed(harness) -> None:
    assert harness.prompter.prompts == []
    assert all(line["result"] != "OK" for line in harness.audit_lines())


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    msg = await ws.receive(timeout=10)
    assert msg.type is aiohttp.WSMsgType.CLOSE, msg
    return msg.data, msg.extra


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "http://portal.kyso.test",
        "file://",
        "https://portal.kyso.test/path",
        "chrome-extension://abcdef",
        "https://portal.kyso.test:99999",
        "https://",
    ],
)
async def test_refused_origins_are_closed_with_4403_and_never_prompt(agent, origin) -> None:
    ws = await agent.raw_ws(origin)
    assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED")
    assert_nothing_signed(agent)


async def test_http_localhost_only_with_the_developer_setting(harness) -> None:
    await harness.start(allowed_origins=["http://localhost:8080"])
    ws = await harness.raw_ws("http://localhost:8080")
    assert (await closed_with(ws))[0] == 4403
    await harness.agent.stop()
    await harness.start(allowed_origins=["http://localhost:8080"], allow_http_localhost=True)
    client = await harness.client("http://localhost:8080")
    assert (await client.call("agent.info"))["origin"] == "http://localhost:8080"


async def test_unknown_origin_denied_once_is_not_asked_again(agent) -> None:
    agent.prompter.path.write_text(
        json.dumps({"pair": "deny", "consent": "allow", "pin": "123456"})
    )
    for _ in range(3):
        ws = await agent.raw_ws("https://evil.example")
        assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED")
    assert [p.kind for p in agent.prompter.prompts] == ["pair"]  # asked once, then remembered
    assert "https://evil.example" not in agent.approvals
    assert all(line["result"] != "OK" for line in agent.audit_lines())


async def test_pairing_once_and_always(agent) -> None:
    agent.prompter.path.write_text(json.dumps({"pair": "once"}))
    client = await agent.client("https://once.example")
    assert (await client.call("agent.info"))["origin"] == "https://once.example"
    assert "https://once.example" not in agent.approvals  # not persisted
    agent.prompter.path.write_text(json.dumps({"pair": "always"}))
    await agent.client("https://always.example")
    assert "https://always.example" in agent.approvals
    saved = json.loads(agent.approvals.path.read_text())
    assert "https://always.example" in saved["origins"]
    # Many connections at once from a new origin share one pairing question.
    await asyncio.gather(*(agent.client("https://many.example") for _ in range(5)))
    assert [p.summary for p in agent.prompter.prompts if p.kind == "pair"] == [
        "https://once.example",
        "https://always.example",
        "https://many.example",
    ]


async def test_policy_only_mode_never_asks(harness) -> None:
    await harness.start(allow_user_origins=False)
    ws = await harness.raw_ws("https://new.example")
    assert (await closed_with(ws))[0] == 4403
    assert_nothing_signed(harness)


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:1", "localhost", "127.0.0.2:{port}", ""]
)
async def test_rebinding_host_gets_421_without_cors(agent, host) -> None:
    headers = {"Host": host.format(port=agent.port), "Origin": ORIGIN}
    response = await agent.http("GET", headers=headers)
    assert response.status == 421
    assert "Access-Control-Allow-Origin" not in response.headers
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await agent.raw_ws(ORIGIN, headers={"Host": host.format(port=agent.port)})
    assert info.value.status == 421
    assert_nothing_signed(agent)


async def test_loopback_host_names_are_accepted(agent) -> None:
    for host in (f"localhost:{agent.port}", f"[::1]:{agent.port}", f"127.0.0.1:{agent.port}"):
        response = await agent.http("GET", headers={"Host": host, "Origin": ORIGIN})
        assert response.status == 200, host


async def test_cors_preflight_from_a_foreign_origin_is_refused(agent) -> None:
    headers = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Private-Network": "true",
    }
    response = await agent.http("OPTIONS", headers=headers)
    assert response.status == 403
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Private-Network"):
        assert name not in response.headers
    response = await agent.http("GET", headers={"Origin": "https://evil.example"})
    assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
    assert_nothing_signed(agent)


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
async def test_plain_https_request_to_the_ws_path_never_asks_to_pair(agent, method) -> None:
    # A page's fetch() to /v1/ws (no WebSocket upgrade) is a probe, not a connection: it must
    # not pop up the pairing question, nor get an origin approved behind the user's back.
    headers = {"Origin": "https://probe.example", "Access-Control-Request-Method": "GET"}
    response = await agent.http(method, "/v1/ws", headers=headers)
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "https://probe.example" not in agent.approvals
    assert_nothing_signed(agent)
    # A real WebSocket from that origin is still asked about as before.
    await agent.client("https://probe.example")
    assert [(p.kind, p.summary) for p in agent.prompter.prompts] == [
        ("pair", "https://probe.example")
    ]


async def test_private_network_preflight_for_an_allowed_origin(agent) -> None:
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Private-Network": "true",
    }
    response = await agent.http("OPTIONS", headers=headers)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    assert response.headers["Access-Control-Allow-Origin"] != "*"


async def test_malformed_and_invalid_messages_get_json_rpc_errors(agent) -> None:
    client = await agent.client()
    ws = client.ws
    cases = [
        ("{not json", -32700),
        ("[1, 2]", -32600),
        ('"text"', -32600),
        ('{"jsonrpc": "1.0", "id": 1, "method": "agent.info"}', -32600),
        ('{"jsonrpc": "2.0", "id": 2, "method": "no.such"}', -32601),
        ('{"jsonrpc": "2.0", "id": 3, "method": "sign.hash", "params": {"digest": 5}}', -32602),
        ('{"jsonrpc": "2.0", "id": 4, "method": "sign.hash", "params": {"digest": "@@"}}', -32602),
        ('{"jsonrpc": "2.0", "id": 5, "method": "sign.hash", "params": []}', -32602),
        (
            '{"jsonrpc": "2.0", "id": 6, "method": "sign.batch", "params": {"items": [{"kind": "pdf"}]}}',
            -32602,
        ),
        (
            '{"jsonrpc": "2.0", "id": 7, "method": "auth.challenge", "params": {"nonce": "short"}}',
            -32602,
        ),
        # Refused as unparseable, or before parsing as too many values: either way a reply.
        ("[" * 100_000, (-32700, -32600)),
    ]
    for text, code in cases:
        await ws.send_str(text)
        await until(lambda: client.unmatched)
        reply = client.unmatched.pop()
        assert reply["error"]["code"] in (code if isinstance(code, tuple) else (code,)), (
            text[:60],
            reply,
        )
        assert reply["error"]["data"]["message_vi"]  # Vietnamese text for the page to show
    invalid = await client.request("sign.hash", {"digest": DIGEST, "extra": 1})
    assert invalid["error"]["data"]["code"] == "PARAMS_INVALID"
    assert "params" in invalid["error"]["data"]["details"]["detail"]
    assert (await client.call("agent.info"))["name"] == "Kyso"  # still working
    assert_nothing_signed(agent)


@pytest.mark.parametrize(
    "params",
    [
        {"digest": DIGEST, "pin": "123456"},
        {"items": [{"kind": "hash", "digest": DIGEST, "PIN": "1"}]},
        {"nonce": "x" * 44, "user_pin": "123456"},
    ],
)
async def test_a_pin_in_params_is_refused_before_anything(agent, params) -> None:
    client = await agent.client()
    method = (
        "sign.batch"
        if "items" in params
        else "auth.challenge"
        if "nonce" in params
        else "sign.hash"
    )
    reply = await client.request(method, params)
    assert reply["error"]["data"]["code"] == "PIN_NOT_ACCEPTED"
    assert reply["error"]["code"] == 4008
    assert_nothing_signed(agent)


async def test_oversized_message_closes_the_socket_without_prompt(harness) -> None:
    await harness.start(max_document_bytes=4096)
    client = await harness.client()
    big = base64.b64encode(b"x" * 200_000).decode()
    await client.ws.send_str(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sign.cms", "params": {"data": big}})
    )
    await asyncio.wait_for(client._reader, 10)
    # 1009 when the close frame arrives; 1006 when the unread rest of the message made the
    # kernel reset the connection first. Either way the socket is gone and nothing was signed.
    assert client.ws.close_code in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, 1006)
    # A document over the limit inside a message that fits: a clean error.
    client = await harness.client()
    reply = await client.request("sign.cms", {"data": base64.b64encode(b"x" * 5000).decode()})
    assert reply["error"]["data"]["code"] == "DOCUMENT_TOO_LARGE"
    assert_nothing_signed(harness)


async def test_flood_from_one_page_is_bounded_and_ends(demo, harness) -> None:
    await harness.start()
    gate = GatedConsent(harness.prompter)  # the user has not answered the first consent yet
    client = await harness.client()
    params = {"digest": DIGEST, "certificate": cert_thumbprint(demo, "org")}
    requests = [asyncio.create_task(client.request("sign.hash", params)) for _ in range(200)]
    # All but one are refused while the first waits for the user (its consent on screen).
    await until(lambda: gate.asked == [ORIGIN] and sum(r.done() for r in requests) == 199)
    gate.open.set()
    replies = await asyncio.gather(*requests)
    codes = ["OK" if "result" in r else r["error"]["data"]["code"] for r in replies]
    assert codes.count("OK") == 1  # the page cannot stack prompts
    assert set(codes) == {"OK", "ACTION_PENDING", "BUSY"}
    assert harness.prompter.count("consent") == 1 and harness.prompter.count("pin") == 1


async def test_a_waiting_page_cannot_make_the_agent_decode_more_documents(demo, harness) -> None:
    # While a page's signing request waits for the user, its further signing requests must be
    # refused with ACTION_PENDING before their documents are decoded and parsed: otherwise 64
    # connections x 32 requests x 50 MB documents are all held and parsed at once (memory).
    await harness.start()
    gate = GatedConsent(harness.prompter)  # the user has not answered the first consent yet
    first, second = await harness.client(), await harness.client()
    params = {"digest": DIGEST, "certificate": cert_thumbprint(demo, "org")}
    waiting = asyncio.create_task(first.request("sign.hash", params))
    await until(lambda: gate.asked == [ORIGIN])  # the first request holds its place
    not_xml = base64.b64encode(b"x" * 100_000).decode()
    for client in (first, second):
        reply = await client.request("sign.xml", {"document": not_xml})
        assert reply["error"]["data"]["code"] == "ACTION_PENDING", reply
        reply = await client.request("sign.batch", {"items": [{"kind": "cms", "data": "%%"}]})
        assert reply["error"]["data"]["code"] == "ACTION_PENDING", reply
    gate.open.set()
    assert "result" in await waiting
    # Once nothing is pending, the same bad document gets its own clear error.
    reply = await first.request("sign.xml", {"document": not_xml})
    assert reply["error"]["data"]["code"] not in ("ACTION_PENDING", "INTERNAL_ERROR"), reply


async def test_connection_limit(harness) -> None:
    await harness.start(max_connections=2)
    await harness.client()
    await harness.client()
    ws = await harness.raw_ws(ORIGIN)
    assert await closed_with(ws) == (4429, "TOO_MANY_CONNECTIONS")


@pytest.mark.parametrize(
    "method, params, expected",
    [
        ("sign.xml", {"profile": "nope", "document": DIGEST}, "XML_PROFILE_UNKNOWN"),
        ("sign.xml", {"document": base64.b64encode(b"<a><b></a>").decode()}, "XML_"),
        # A DOCTYPE naming a local file, behind a prolog longer than the reader's first look:
        # libxml2 used to open the file (an oracle telling the page which files exist).
        ("sign.xml", {"document": HIDDEN_DOCTYPE}, "XML_UNSAFE"),
        ("sign.hash", {"digest": DIGEST, "certificate": "ab" * 32}, "CERT_NOT_FOUND"),
        ("sign.hash", {"digest": DIGEST, "certificate": "expired"}, "CERT_EXPIRED"),
        ("sign.hash", {"digest": DIGEST, "certificate": "no_key_usage"}, "CERT_KEY_USAGE"),
        ("sign.hash", {"digest": DIGEST, "certificate": "not_yet_valid"}, "CERT_NOT_YET_VALID"),
    ],
)
async def test_bad_documents_and_certificates_fail_before_any_prompt(
    demo, agent, method, params, expected
) -> None:
    if params.get("certificate") in demo["certificates"]:
        params = {**params, "certificate": cert_thumbprint(demo, params["certificate"])}
    client = await agent.client()
    reply = await client.request(method, params)
    assert reply["error"]["data"]["code"].startswith(expected), reply
    assert_nothing_signed(agent)


BHXH = "https://dichvucong.baohiemxahoi.gov.vn"
LOOKALIKES = [
    BHXH + ".evil.com",  # the allowed origin as a prefix of another site's name
    BHXH + "x",
    BHXH + ":444",  # another port is another origin (another server, maybe another user's)
    BHXH + ":8443",
    "https://xdichvucong.baohiemxahoi.gov.vn",  # the allowed origin as a suffix
    "https://evil.dichvucong.baohiemxahoi.gov.vn",  # a subdomain is another origin
    "https://baohiemxahoi.gov.vn",  # the parent domain
    "https://dichvucong.baohiemxahoi.gov",
    "http://dichvucong.baohiemxahoi.gov.vn",
    "https://dichvucong.baohiemxahoi.gov.vn.",
]
# Spellings no browser sends (it serializes the origin): never matched loosely, never asked about.
NOT_SERIALIZED = [
    BHXH + ":443",
    BHXH + "/",
    BHXH.upper(),
    BHXH + ":0443",
    BHXH + ":",
    "https://dichvucong.baohiem\txahoi.gov.vn",  # urlsplit would drop the tab
    "https://dichvucong.baohiemxahoi.gov.vn:\t443",
    "https://dichvucong.baohiemxahoi..gov.vn",
]


async def start_with_policy(harness, **policy) -> None:
    """Start the harness's agent under a managed policy (as IT deploys it for e-BHXH)."""
    layers = {
        "policy": parse_layer(policy, code="POLICY_INVALID", path="test policy"),
        "command line": parse_layer({"port": 0, "ping_port": 0}, code="CONFIG_INVALID", path="t"),
    }
    services = Services(harness.tokens, harness.prompter, harness.approvals, harness.audit)
    harness.agent = await serve(merge_layers(layers), services=services, tls=harness.server_ssl)


@pytest.mark.parametrize("origin", LOOKALIKES + NOT_SERIALIZED)
async def test_only_the_exact_allowed_origin_is_allowed(harness, origin) -> None:
    # Policy-only mode: an origin is allowed exactly when it IS an allowed origin; a prefix,
    # suffix, subdomain, parent or another port must be refused without asking anyone.
    await start_with_policy(harness, allowed_origins=[BHXH], allow_user_origins=False)
    ws = await harness.raw_ws(origin)
    assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED")
    response = await harness.http("GET", headers={"Origin": origin})
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert_nothing_signed(harness)
    # The exact origin, as a browser serializes it, is allowed: the refusal is not a blanket one.
    client = await harness.client(BHXH)
    assert (await client.call("agent.info"))["origin"] == BHXH
    response = await harness.http("GET", headers={"Origin": BHXH})
    assert response.headers["Access-Control-Allow-Origin"] == BHXH


@pytest.mark.parametrize("origin", [o for o in LOOKALIKES if o.startswith("https://")])
async def test_a_lookalike_of_an_approved_origin_is_asked_about_not_let_in(harness, origin) -> None:
    # The user approved the real portal for good; a lookalike is a new origin: it gets the
    # pairing question (answered "deny" here), never the approved origin's access.
    harness.approvals.add(BHXH)
    await harness.start(allowed_origins=[])
    harness.prompter.path.write_text(json.dumps({"pair": "deny"}))
    ws = await harness.raw_ws(origin)
    assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED")
    assert [(p.kind, p.summary) for p in harness.prompter.prompts] == [("pair", origin)]
    response = await harness.http("GET", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    client = await harness.client(BHXH)
    assert (await client.call("agent.info"))["origin"] == BHXH


@pytest.mark.parametrize("origin", NOT_SERIALIZED)
async def test_an_origin_spelled_as_no_browser_would_is_refused_without_a_question(
    harness, origin
) -> None:
    # Even where the user may pair new sites: the spelling is not the approved origin's, and it
    # is not a site the user could recognise in a pairing question either.
    harness.approvals.add(BHXH)
    await harness.start(allowed_origins=[])
    ws = await harness.raw_ws(origin)
    assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED")
    response = await harness.http("GET", headers={"Origin": origin})
    assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
    assert harness.prompter.prompts == []
    client = await harness.client(BHXH)
    assert (await client.call("agent.info"))["origin"] == BHXH


async def test_an_http_origin_is_never_paired_even_for_developers(harness) -> None:
    # The developer setting lets the listed http://localhost origins in; any other http
    # origin is refused outright: pairing is for https sites only.
    await harness.start(allowed_origins=["http://localhost:8080"], allow_http_localhost=True)
    for origin in ("http://localhost:9999", "http://127.0.0.1:8080"):
        ws = await harness.raw_ws(origin)
        assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED"), origin
    assert_nothing_signed(harness)
    assert "http://localhost:9999" not in harness.approvals


def test_a_denied_origin_is_refused_before_pairing() -> None:
    from agent.server.origin import OriginVerdict, classify_origin

    denied = {"https://evil.example"}
    assert classify_origin("https://evil.example", allowed=(), denied=denied) == (
        OriginVerdict.REFUSED,
        "https://evil.example",
    )
    assert classify_origin("https://new.example", allowed=(), denied=denied)[0] is (
        OriginVerdict.ASK
    )
    assert classify_origin("https://new.example", allowed=(), allow_user_origins=False)[0] is (
        OriginVerdict.REFUSED
    )


async def test_private_network_access_is_granted_only_when_asked(agent) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    response = await agent.http("OPTIONS", headers=headers)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Private-Network" not in response.headers
    headers["Access-Control-Request-Private-Network"] = "false"
    response = await agent.http("OPTIONS", headers=headers)
    assert "Access-Control-Allow-Private-Network" not in response.headers


async def test_a_denied_page_knocking_in_a_loop_logs_one_line(
    agent, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each refused WebSocket wrote a WARNING: a background tab retrying grew the agent's log
    (on Windows, a launcher log nobody rotates) by megabytes an hour."""
    from agent.server import app
    from agent.server.listener import Throttled

    monkeypatch.setattr(app, "_refused_log", Throttled())  # not one an earlier test used up
    agent.prompter.path.write_text(json.dumps({"pair": "deny"}))
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            ws = await agent.raw_ws("https://evil.example")
            assert await closed_with(ws) == (4403, "ORIGIN_NOT_ALLOWED")
    refused = [r for r in caplog.records if "refused a WebSocket" in r.getMessage()]
    assert len(refused) == 1, [r.getMessage() for r in refused]
