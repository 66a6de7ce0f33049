"""The bridge example's server side (``bridge_js/examples/server.py``), as an integrator copies
it: a token signed on the demo USB token (SoftHSM2) signs the user in for this site only, the
nonce is single use and short-lived, and only the page's own files are served."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agent.signing.challenge import create_auth_token
from agent.signing.trust import TrustStore
from tests.signing_cms.conftest import token_signer

BRIDGE = Path(__file__).resolve().parents[2] / "bridge_js"
ORIGIN = "https://portal.kyso.test"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    """``server.py`` loaded from its file, as ``python server.py`` would."""
    spec = importlib.util.spec_from_file_location(
        "kyso_bridge_example", BRIDGE / "examples/server.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def client(example: ModuleType, demo: dict[str, Any], aiohttp_client: Any) -> Any:
    ca = demo["ca"]
    trust = TrustStore.from_files([ca["root"], ca["issuing"]], [ca["crl"], ca["root_crl"]])
    return await aiohttp_client(example.create_app(ORIGIN, trust, ping_port=27442))


# The cookie is Secure and the test client speaks plain http, so the session id is carried by
# hand (a browser on the https origin does this itself).
SID: dict[int, str] = {}


def _cookie(client: Any) -> dict[str, str]:
    sid = SID.get(id(client))
    return {"Cookie": f"sid={sid}"} if sid else {}


def _remember(client: Any, response: Any) -> None:
    if "sid" in response.cookies:
        SID[id(client)] = response.cookies["sid"].value


async def _post(client: Any, path: str, body: Any, origin: str | None = ORIGIN) -> Any:
    headers = {"Origin": origin} if origin else {}
    response = await client.post(path, json=body, headers={**headers, **_cookie(client)})
    _remember(client, response)
    return response


async def _me(client: Any) -> Any:
    return (await (await client.get("/me", headers=_cookie(client))).json())["user"]


async def _nonce(client: Any) -> str:
    response = await _post(client, "/login/challenge", {})
    assert response.status == 200
    return (await response.json())["nonce"]


async def _token(token_service: Any, demo: dict[str, Any], nonce: str, origin: str = ORIGIN) -> Any:
    async with token_signer(token_service, demo, "org") as signer:
        return await create_auth_token(
            signer, origin=origin, nonce=nonce, app_version="https://kyso.test/agent"
        )


async def test_a_token_from_the_usb_token_signs_the_user_in(
    client: Any, token_service: Any, demo: dict[str, Any]
) -> None:
    """Challenge, token signed for this origin on the demo token, login: the session knows the
    unit (MST) and a fresh session id replaces the one the challenge was issued to."""
    nonce = await _nonce(client)
    before = SID[id(client)]
    response = await _post(client, "/login", {"token": await _token(token_service, demo, nonce)})
    assert response.status == 200, await response.text()
    user = (await response.json())["user"]
    assert user["thumbprint"] == demo["certificates"]["org"]["thumbprint"]
    assert user["mst"] == "0101234567"
    assert SID[id(client)] != before
    assert (await _me(client))["mst"] == "0101234567"


async def test_a_token_made_for_another_site_is_refused(
    client: Any, token_service: Any, demo: dict[str, Any]
) -> None:
    """A phishing site relaying our nonce gets a token for ITS origin: useless here."""
    nonce = await _nonce(client)
    token = await _token(token_service, demo, nonce, origin="https://portal-kyso.example")
    response = await _post(client, "/login", {"token": token})
    assert response.status == 401
    error = (await response.json())["error"]
    assert error["code"] == "AUTH_SIGNATURE_INVALID"
    assert error["message_vi"] and error["action_vi"]
    assert await _me(client) is None


async def test_the_nonce_is_burnt_by_any_attempt(
    client: Any, token_service: Any, demo: dict[str, Any]
) -> None:
    """A failed attempt uses the nonce up: a valid token for it is refused afterwards."""
    nonce = await _nonce(client)
    bad = await _post(client, "/login", {"token": {"format": "web-eid:1.0"}})
    assert (await bad.json())["error"]["code"] == "AUTH_TOKEN_INVALID"
    retry = await _post(client, "/login", {"token": await _token(token_service, demo, nonce)})
    assert retry.status == 400
    assert (await retry.json())["error"]["code"] == "CHALLENGE_UNKNOWN"


async def test_an_expired_challenge_is_refused(
    client: Any, example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its lifetime the nonce is refused before the token is even read."""
    monkeypatch.setattr(example, "CHALLENGE_TTL", dt.timedelta(seconds=-1))
    await _nonce(client)
    response = await _post(client, "/login", {"token": {}})
    assert (await response.json())["error"]["code"] == "CHALLENGE_EXPIRED"


@pytest.mark.parametrize("origin", ["https://evil.example", None])
async def test_posts_from_other_sites_are_refused(client: Any, origin: str | None) -> None:
    """Cross-site request forgery: a POST not from this site's pages gets nothing."""
    response = await _post(client, "/login/challenge", {}, origin=origin)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "CROSS_SITE"
    assert "sid" not in response.cookies


async def test_cookie_and_headers(client: Any) -> None:
    """The session cookie is out of scripts' and other sites' reach; the CSP lets the page
    reach the agent (https/wss on 127.0.0.1, the ping) and nothing else outside the site."""
    response = await _post(client, "/login/challenge", {})
    cookie = response.cookies["sid"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
    page = await client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' https://127.0.0.1:* wss://127.0.0.1:* http://127.0.0.1:27442" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["Content-Type"].startswith("text/html")


async def test_serves_only_the_page_files(client: Any) -> None:
    """The page, its script and the bridge (the repository's own build); never the server's
    source or anything else in its folder."""
    module = await client.get("/kyso-bridge.mjs")
    assert module.headers["Content-Type"].startswith("text/javascript")
    assert await module.read() == (BRIDGE / "kyso-bridge.mjs").read_bytes()
    assert (await client.get("/login.mjs")).status == 200
    for path in ("/server.py", "/index.html/../server.py", "/%2e%2e/README.md", "/favicon.ico"):
        assert (await client.get(path)).status == 404, path
