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
