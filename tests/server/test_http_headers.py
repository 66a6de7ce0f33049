"""What the HTTPS responses say about themselves: a preflight grants only the request headers
Kyso needs (never an echo of whatever a page asks), and ``Server`` names no software version."""

from __future__ import annotations

from agent.server.origin import cors_headers
from tests.server.conftest import ORIGIN


def test_a_preflight_grants_only_the_allowed_headers() -> None:
    asked = {"Access-Control-Request-Headers": "X-Evil, Content-Type, Authorization"}
    headers = cors_headers(ORIGIN, asked, preflight=True)
    assert headers["Access-Control-Allow-Headers"] == "content-type"
    only_foreign = cors_headers(
        ORIGIN, {"Access-Control-Request-Headers": "X-Evil"}, preflight=True
    )
    assert "Access-Control-Allow-Headers" not in only_foreign


async def test_the_live_preflight_does_not_echo_requested_headers(agent) -> None:
    for path in ("/v1/info", "/v1/anything"):
        response = await agent.http(
            "OPTIONS",
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-kyso-evil, content-type",
            },
        )
        allowed = response.headers.get("Access-Control-Allow-Headers", "")
        assert "x-kyso-evil" not in allowed.lower(), (path, allowed)


async def test_no_response_names_python_or_aiohttp(agent) -> None:
    responses = [
        await agent.http("GET", headers={"Origin": ORIGIN}),  # 200
        await agent.http("GET", headers={"Origin": "https://stranger.example"}),  # 403
        await agent.http("GET", "/nope", headers={"Origin": ORIGIN}),  # 404
        await agent.http("GET", headers={"Origin": ORIGIN, "Host": "evil.example"}),  # 421
    ]
    assert [r.status for r in responses] == [200, 403, 404, 421]
    for response in responses:
        assert response.headers.get("Server") == "Kyso", response.headers


async def test_the_plain_http_ping_names_no_software_either(aiohttp_client) -> None:
    from agent.server.ping import PING_PATH, create_ping_app

    client = await aiohttp_client(create_ping_app(27443))
    response = await client.get(PING_PATH, headers={"Host": "127.0.0.1:27443"})
    assert response.status == 204 and response.headers.get("Server") == "Kyso"


async def test_a_page_without_an_origin_header_gets_no_info(agent) -> None:
    """fetch(url, {mode: "no-cors"}) and a link's navigation carry no Origin, only
    Sec-Fetch-Site: the page is still a page (403, as docs/protocol.md says), while a typed
    URL ("none") and a local tool (no Sec-Fetch-* at all) get the answer."""
    for site in ("cross-site", "same-site", "same-origin", "Cross-Site"):
        headers = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}
        response = await agent.http("GET", "/v1/info", headers=headers)
        body = await response.text()
        assert response.status == 403, (site, response.status)
        assert "version" not in body and "Access-Control-Allow-Origin" not in response.headers
    for headers in ({"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, {}):
        response = await agent.http("GET", "/v1/info", headers=headers)
        assert response.status == 200, headers
        assert "version" in await response.json()


async def test_a_request_aiohttp_cannot_parse_is_answered_as_kyso_without_tracebacks(
    agent, client_ssl, caplog
) -> None:
    """An over-long URL or two Host headers are refused by aiohttp's parser before any Kyso
    check (any page can send one with a no-cors fetch): still ``Server: Kyso``, and one
    throttled line for many, never a traceback per request."""
    import asyncio
    import logging

    caplog.set_level(logging.DEBUG)
    requests = [
        b"GET /v1/info?" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
    ] * 10
    for raw in requests:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", agent.port, ssl=client_ssl, server_hostname="127.0.0.1"
        )
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        status, *lines = head.decode("latin-1").split("\r\n")
        assert status.split()[1].startswith("4"), status
        assert "Server: Kyso" in lines, lines
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert len([r for r in caplog.records if "malformed HTTP" in r.getMessage()]) <= 1


async def test_a_preflight_for_a_path_that_does_not_exist_grants_nothing(agent) -> None:
    """Even an allowed origin gets no CORS grant (no Private Network Access either) for a
    path the agent does not serve: the preflight was answered before routing."""
    response = await agent.http(
        "OPTIONS",
        "/zzz",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status == 404
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Private-Network" not in response.headers
    info = await agent.http(
        "OPTIONS",
        "/v1/info",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert info.status == 204 and info.headers["Access-Control-Allow-Origin"] == ORIGIN
