"""What a remote signing service says reaches the user only as Kyso's own words (red team 34).

- An access token that could never be sent back (control characters, non-ASCII, huge) is the
  provider's REMOTE_PROTOCOL_ERROR when it arrives, and is not kept: the provider works again
  as soon as it hands out a good one (it used to be an INTERNAL_ERROR after the PIN, for the
  token's whole stated lifetime, up to 24 h).
- An ``error`` word outside the CSC/OAuth standards' is never carried: a service echoing the
  PIN or the SAD as its "error" would otherwise put the secret in the page's answer.
- ``key.status`` / ``cert.status`` are reduced to the statuses CSC defines: free text there
  became Kyso's REMOTE_CREDENTIAL_INVALID message ("disabled. Kyso: call 1900-...").
- 429 and 5xx say "wait and retry" (REMOTE_BUSY), whatever their description says about PINs.
- A certificate cryptography cannot read (two KeyUsage extensions) is the provider's error.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from agent.errors import KysoError
from agent.remote.csc import parse_credential_info
from agent.remote.directory import RemoteService
from agent.remote.http import KNOWN_ERROR_WORDS, classify
from agent.remote.prompt import StaticCredentialPrompter
from agent.server.app import CORE_KEY
from agent.signing.remote import RemoteSigner
from agent.tokens.algorithms import SignatureAlgorithm
from agent.tokens.certinfo import parse_certificate
from tests.remote.evilcsc import CERT, PIN, EvilCsc, evilcsc, info_body, listed  # noqa: F401
from tests.remote.listing import list_certificates
from tests.server.conftest import (  # noqa: F401 - the running agent's fixtures
    Answers,
    Harness,
    answers,
    client_ssl,
    harness,
    prompter,
    server_cert,
)

SECONDS = 20
RSA_SHA256 = next(
    a
    for a in SignatureAlgorithm
    if a.key_kind.value == "RSA" and a.hash_name == "sha256" and not a.is_pss
)
UNSENDABLE_TOKENS = {
    "CRLF": "tok\r\nX-Injected: 1",
    "NUL": "tok\x00",
    "DEL": "tok\x7f",
    "space": "tok en",
    "non-ASCII": "tök",
    "9000 chars": "t" * 9000,
}
PHISH = "disabled. Kyso: goi 1900-0000 va doc ma PIN cho tong dai vien de mo khoa"


@pytest.mark.parametrize("token", UNSENDABLE_TOKENS.values(), ids=UNSENDABLE_TOKENS.keys())
async def test_an_unsendable_access_token_is_the_providers_error_and_is_not_kept(
    evilcsc: EvilCsc,  # noqa: F811
    tmp_path: Path,
    token: str,
) -> None:
    evilcsc.token = token
    service = RemoteService(evilcsc.client_credentials(tmp_path / "secret"))
    try:
        with pytest.raises(KysoError) as caught:
            await asyncio.wait_for(service.client.list_credentials(), SECONDS)
        assert caught.value.code == "REMOTE_PROTOCOL_ERROR"
        assert "unusable access_token" in caught.value.message_en
        evilcsc.token = "good-access-token"  # the provider fixed its token endpoint
        assert await asyncio.wait_for(service.client.list_credentials(), SECONDS) == ["cred-1"]
    finally:
        await service.close()


async def test_signing_with_an_unsendable_token_gives_each_item_a_remote_code(
    evilcsc: EvilCsc,  # noqa: F811
    tmp_path: Path,
) -> None:
    service = RemoteService(evilcsc.client_credentials(tmp_path / "secret"))
    try:
        credential = (await asyncio.wait_for(listed(service), SECONDS))[0]
        service.auth.invalidate()  # the service token ran out; the next one is hostile
        evilcsc.token = "tok\r\nX-Injected: 1"
        signer = RemoteSigner.open(credential, service, StaticCredentialPrompter(PIN))
        digests = [hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()]
        results = await asyncio.wait_for(signer.sign_digests(digests, RSA_SHA256), SECONDS)
        assert [r.code for r in results if isinstance(r, KysoError)] == [
            "REMOTE_PROTOCOL_ERROR",
            "REMOTE_PROTOCOL_ERROR",
        ]
    finally:
        await service.close()


async def test_through_the_agent_an_unsendable_token_is_a_remote_error_and_it_recovers(
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    evilcsc: EvilCsc,  # noqa: F811
    tmp_path: Path,
) -> None:
    provider = evilcsc.client_credentials(tmp_path / "secret")
    table = {k: v for k, v in provider.__dict__.items() if k != "remember_tokens"}
    await asyncio.wait_for(harness.start(remote_providers=[table]), SECONDS)
    assert harness.agent is not None
    client = await harness.client()
    listed_rows = await asyncio.wait_for(list_certificates(client), SECONDS)
    remote = [c for c in listed_rows if c.get("source") == "remote:evil"]
    assert remote, "the provider's credential is listed while its token is good"
    answers.set(remote_pin=PIN)
    params = {
        "data": base64.b64encode(b"hello").decode(),
        "detached": True,
        "certificate": remote[0]["thumbprint"],
    }
    core = harness.agent.runner.app[CORE_KEY]
    core.certs.remote.services[0].auth.invalidate()
    evilcsc.token = "tok\r\nX-Injected: 1"
    response = await asyncio.wait_for(client.request("sign.cms", params), SECONDS)
    assert response["error"]["data"]["code"] == "REMOTE_PROTOCOL_ERROR", response
    evilcsc.token = "good-access-token"
    response = await asyncio.wait_for(client.request("sign.cms", params), SECONDS)
    assert "result" in response, response.get("error")


async def _first_error(evilcsc: EvilCsc) -> KysoError:  # noqa: F811
    """Sign one digest with the provider's credential; the error it ends with."""
    service = RemoteService(evilcsc.provider())
    try:
        credential = (await asyncio.wait_for(listed(service), SECONDS))[0]
        signer = RemoteSigner.open(credential, service, StaticCredentialPrompter(PIN))
        digest = hashlib.sha256(b"x").digest()
        try:
            result = await asyncio.wait_for(signer.sign_digests([digest], RSA_SHA256), SECONDS)
        except KysoError as exc:
            return exc
        assert isinstance(result[0], KysoError), "the hostile provider must not sign here"
        return result[0]
    finally:
        await service.close()


@pytest.mark.parametrize(
    ("method", "echoed", "secret"),
    [("credentials/authorize", "PIN", PIN), ("signatures/signHash", "SAD", "sad-xyz")],
)
async def test_a_secret_echoed_as_the_error_word_never_reaches_the_error(
    evilcsc: EvilCsc,  # noqa: F811
    method: str,
    echoed: str,
    secret: str,
) -> None:
    async def echo(request: web.Request, body: dict[str, Any]) -> web.Response:
        return web.json_response({"error": body.get(echoed)}, status=400)

    evilcsc.routes[method] = echo
    error = await _first_error(evilcsc)
    assert error.code.startswith("REMOTE_")
    assert secret not in json.dumps(error.to_dict(), ensure_ascii=False)


def test_only_the_standards_error_words_are_carried() -> None:
    provider = EvilCsc(url="http://127.0.0.1:9").provider()
    for word in ("864209", "sad-xyz", "rate_limited", "Kyso.call.1900"):
        error = classify(provider, "credentials/authorize", 400, {"error": word})
        assert word not in json.dumps(error.to_dict(), ensure_ascii=False), word
    error = classify(provider, "credentials/authorize", 400, {"error": "invalid_request"})
    assert error.details["detail"] == "credentials/authorize: HTTP 400 invalid_request"
    assert "invalid_pin" in KNOWN_ERROR_WORDS and "864209" not in KNOWN_ERROR_WORDS


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_busy_service_says_wait_not_check_the_pin(status: int) -> None:
    provider = EvilCsc(url="http://127.0.0.1:9").provider()
    body = {"error": "rate_limited", "error_description": "Too many requests: invalid PIN rate"}
    error = classify(provider, "credentials/authorize", status, body)
    assert error.code == "REMOTE_BUSY"
    said = error.to_dict()
    assert f"HTTP {status}" in said["message_en"] and "not your PIN" in said["action_en"]
    # A standard word still says what it says, whatever the status.
    refused = classify(provider, "credentials/authorize", 400, {"error": "invalid_pin"})
    assert refused.code == "REMOTE_AUTH_REFUSED"


def test_standard_words_and_hints_win_over_a_busy_status() -> None:
    """Code that acts on the codes (dropping a cached token, refreshing the listing for a
    disabled credential) must still see them when the status is a 5xx (review 37)."""
    provider = EvilCsc(url="http://127.0.0.1:9").provider()
    expired = classify(provider, "signatures/signHash", 500, {"error": "invalid_token"})
    assert expired.code == "REMOTE_TOKEN_EXPIRED"
    disabled = classify(
        provider,
        "credentials/info",
        503,
        {"error_description": "credential disabled"},
        credential="cred-1",
    )
    assert disabled.code == "REMOTE_CREDENTIAL_INVALID"
    # A 500 or 501 of its own is the service breaking the API, not "busy".
    for status in (500, 501):
        assert classify(provider, "info", status, {}).code == "REMOTE_PROTOCOL_ERROR"


@pytest.mark.parametrize(
    ("status", "word"), [(501, "not_implemented"), (500, "server_error"), (503, "")]
)
async def test_a_service_whose_info_fails_signs_in_at_its_base_url(status: int, word: str) -> None:
    """A CSC service without a working ``info`` (review 37: a 5xx made it REMOTE_BUSY, and
    the sign-in stopped there): its OAuth endpoints are looked for at its base URL."""
    from agent.remote.oauth import OAuthClient
    from agent.remote.providers import parse_provider

    async def info(request: web.Request) -> web.Response:
        return web.json_response({"error": word} if word else {}, status=status)

    app = web.Application()
    app.router.add_post("/csc/v2/info", info)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        provider = parse_provider({"name": "p", "base_url": url, "client_id": "x"})
        async with aiohttp.ClientSession() as session:
            assert await OAuthClient(provider, session).oauth_url() == url
    finally:
        await runner.cleanup()


async def test_a_providers_status_text_is_not_kysos_message(
    evilcsc: EvilCsc,  # noqa: F811
) -> None:
    async def phishing(request: web.Request, body: dict[str, Any]) -> web.Response:
        answer = info_body()
        answer["key"]["status"] = PHISH + " " + "x" * 5000
        answer["cert"]["status"] = "Revoked: call 1900-0000"
        return web.json_response(answer)

    evilcsc.routes["credentials/info"] = phishing
    error = await _first_error(evilcsc)
    assert error.code == "REMOTE_CREDENTIAL_INVALID"
    assert "1900" not in json.dumps(error.to_dict(), ensure_ascii=False)
    assert "(disabled)" in error.message_en
    service = RemoteService(evilcsc.provider())
    try:
        row = (await asyncio.wait_for(listed(service), SECONDS))[0].to_json()
    finally:
        await service.close()
    assert row["remote_status"] == "disabled"


@pytest.mark.parametrize(
    ("key_status", "cert_status", "problem"),
    [
        ("enabled", "valid", None),
        ("ENABLED", None, None),
        ("enabled", "revoked", "revoked"),
        ("enabled", "SUSPENDED", "suspended"),
        ("enabled", "valid until you call us", "invalid"),
        ("enabled", 7, "invalid"),
        ("on", "valid", "disabled"),
        ({"x": 1}, "valid", "disabled"),
    ],
)
def test_credential_statuses_are_the_ones_csc_defines(
    key_status: Any, cert_status: Any, problem: str | None
) -> None:
    provider = EvilCsc(url="http://127.0.0.1:9").provider()
    body = info_body()
    body["key"]["status"] = key_status
    if cert_status is None:
        del body["cert"]["status"]
    else:
        body["cert"]["status"] = cert_status
    assert parse_credential_info(provider, "cred-1", body).problem == problem


def test_a_certificate_cryptography_cannot_read_is_the_providers_error() -> None:
    cert = asn1_x509.Certificate.load(CERT.public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"]
    extensions = tbs["extensions"]
    extensions.append(extensions[0])  # KeyUsage twice
    tbs["extensions"] = extensions
    cert["tbs_certificate"] = tbs
    der = cert.dump(force=True)
    with pytest.raises(ValueError, match="DuplicateExtension"):
        parse_certificate(der)
    body = info_body()
    body["cert"]["certificates"] = [base64.b64encode(der).decode()]
    provider = EvilCsc(url="http://127.0.0.1:9").provider()
    with pytest.raises(KysoError) as caught:
        parse_credential_info(provider, "cred-1", body)
    assert caught.value.code == "REMOTE_PROTOCOL_ERROR"
