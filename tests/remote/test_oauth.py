"""The OAuth2 flows: the user's consent in the browser (authorization code + PKCE, loopback
redirect), refresh, a denied consent, and listing that never opens a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from agent.demo.remote import CLIENT_ID
from agent.errors import KysoError
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.oauth import OAuthClient, token_file
from agent.remote.providers import parse_provider
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import Browser, remote_signer


def _code_provider(url: str, **extra: Any) -> Any:
    return parse_provider(
        {
            "name": "demo",
            "base_url": url,
            "client_id": CLIENT_ID,
            "auth_flow": "authorization_code",
            **extra,
        }
    )


async def test_authorization_code_with_pkce_through_the_browser(csc: Any) -> None:
    browser = Browser()
    service = RemoteService(_code_provider(csc.url), browser=browser)
    try:
        directory = RemoteDirectory([service])
        # Listing alone never opens a browser: the provider is reported as needing sign-in.
        assert await directory.list_credentials() == []
        assert directory.statuses["demo"].error is not None
        assert directory.statuses["demo"].error["details"]["reason"] == "login_required"
        assert browser.opened == []
        found = await directory.list_credentials(interactive=True)
        assert len(found) == 4 and len(browser.opened) == 1
        query = parse_qs(urlsplit(browser.opened[0]).query)
        assert query["code_challenge_method"] == ["S256"] and query["state"][0]
        assert urlsplit(query["redirect_uri"][0]).hostname == "127.0.0.1"
        org = next(c for c in found if c.credential_id == "kyso/org")
        signature = await remote_signer(service, org).sign(
            b"x", SignatureAlgorithm.RSA_PKCS1_SHA256
        )
        assert len(signature) == 256
        assert len(browser.opened) == 1  # the token is reused, not asked again
    finally:
        await service.close()


async def test_expired_access_token_is_refreshed_without_the_browser(csc: Any) -> None:
    browser = Browser()
    service = RemoteService(_code_provider(csc.url), browser=browser)
    try:
        await service.client.list_credentials()
        assert isinstance(service.auth, OAuthClient)
        service.auth.invalidate()  # as after a 401: the refresh token is used next
        await service.client.list_credentials()
        assert len(browser.opened) == 1
    finally:
        await service.close()


async def test_denied_consent_is_a_refusal(csc: Any) -> None:
    csc.server.state.consent = "deny"
    service = RemoteService(_code_provider(csc.url), browser=Browser())
    try:
        with pytest.raises(KysoError) as err:
            await service.client.list_credentials()
    finally:
        await service.close()
    assert err.value.code == "REMOTE_AUTH_REFUSED"
    assert err.value.details["reason"] == "access_denied"


async def test_tokens_stay_in_memory_unless_the_user_opts_in(csc: Any, kyso_home: Path) -> None:
    plain = RemoteService(_code_provider(csc.url), browser=Browser())
    try:
        await plain.client.list_credentials()
    finally:
        await plain.close()
    assert not token_file(plain.provider).exists()

    opted = RemoteService(_code_provider(csc.url, remember_tokens=True), browser=Browser())
    try:
        await opted.client.list_credentials()
    finally:
        await opted.close()
    path = token_file(opted.provider)
    assert path.stat().st_mode & 0o777 == 0o600
    # A new process signs in with the remembered refresh token, without the browser.
    browser = Browser()
    again = RemoteService(_code_provider(csc.url, remember_tokens=True), browser=browser)
    try:
        await again.client.list_credentials()
        assert browser.opened == []
        assert isinstance(again.auth, OAuthClient)
        again.auth.forget()
        assert not path.exists()
    finally:
        await again.close()


async def test_an_oauth_address_on_plain_http_is_refused(csc: Any) -> None:
    provider = _code_provider(csc.url)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(KysoError) as err:
            OAuthClient(provider, session, oauth_base="http://login.example.vn")
    assert err.value.code == "REMOTE_INSECURE_URL"
