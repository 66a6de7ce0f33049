"""The CSC ``info`` method and the v1 / implicit paths, against the real service:

- with no ``oauth_url`` configured, the OAuth2 address is the one the service's ``info``
  announces (its ``oauth2`` field), checked like every other address;
- a provider configured with ``api_version = "v1"`` signs through certomancer-csc-dummy's own,
  unmodified v1 routes, whose credentials are ``implicit`` (the provider asks the user itself):
  Kyso's window asks nothing, and the signatures verify."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.demo.remote import CLIENT_ID, RunningService
from agent.errors import KysoError
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.prompt import StaticCredentialPrompter
from agent.remote.providers import parse_provider
from agent.signing.remote import RemoteSigner
from agent.signing.xml import sign_xml
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import Browser, make_provider
from tests.signing_xml.helpers import HOSO, xmlsec_verify

RSA = SignatureAlgorithm.RSA_PKCS1_SHA256


def _code_provider(url: str) -> Any:
    return parse_provider(
        {"name": "demo", "base_url": url, "client_id": CLIENT_ID, "auth_flow": "authorization_code"}
    )


async def test_sign_in_goes_where_the_services_info_says(csc: RunningService) -> None:
    csc.server.state.oauth2_url = f"{csc.url}/sso"
    browser = Browser()
    service = RemoteService(_code_provider(csc.url), browser=browser)
    try:
        found = await RemoteDirectory([service]).list_credentials(interactive=True)
    finally:
        await service.close()
    assert len(found) == 4
    [opened] = browser.opened
    assert urlsplit(opened).path == "/sso/oauth2/authorize"
    assert csc.server.state.oauth_paths == ["/sso/oauth2/authorize", "/sso/oauth2/token"]


async def test_a_plain_http_oauth_address_in_info_is_refused(csc: RunningService) -> None:
    csc.server.state.oauth2_url = "http://login.example.vn"
    browser = Browser()
    service = RemoteService(_code_provider(csc.url), browser=browser)
    try:
        with pytest.raises(KysoError) as err:
            await RemoteDirectory([service]).sign_in("demo")
    finally:
        await service.close()
    assert err.value.code == "REMOTE_INSECURE_URL"
    assert browser.opened == [] and csc.server.state.oauth_paths == []


async def test_a_configured_oauth_url_wins_over_info(csc: RunningService) -> None:
    csc.server.state.oauth2_url = "http://login.example.vn"  # would be refused if asked
    provider = parse_provider(
        {
            "name": "demo",
            "base_url": csc.url,
            "oauth_url": f"{csc.url}/sso",
            "client_id": CLIENT_ID,
            "auth_flow": "authorization_code",
        }
    )
    browser = Browser()
    service = RemoteService(provider, browser=browser)
    try:
        await RemoteDirectory([service]).sign_in("demo")
    finally:
        await service.close()
    assert csc.server.state.oauth_paths == ["/sso/oauth2/authorize", "/sso/oauth2/token"]


async def test_v1_implicit_credential_signs_through_the_dummys_own_routes(
    csc: RunningService,
    secret_file: Path,
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
) -> None:
    service = RemoteService(make_provider(csc.url, secret_file, api_version="v1"))
    prompter = StaticCredentialPrompter("must-not-be-asked")
    try:
        found = await RemoteDirectory([service]).list_credentials()
        org = next(c for c in found if c.credential_id == "kyso/org")
        assert org.details.auth_mode == "implicit"
        digests = [hashlib.sha256(f"tờ khai {i}".encode()).digest() for i in range(12)]
        signer = RemoteSigner.open(org, service, prompter)
        results = await signer.sign_digests(digests, RSA)
        signed_xml = await sign_xml(HOSO, RemoteSigner.open(org, service, prompter))
    finally:
        await service.close()
    assert prompter.requests == []  # implicit: the provider asks its user, Kyso does not
    assert signer.authorizations == 2  # 12 hashes, multisign 10
    assert csc.server.state.authorize_calls == 0  # the v2 routes were never used
    key = org.info.certificate.public_key()
    for signature, d in zip(results, digests, strict=True):
        assert isinstance(signature, bytes)
        key.verify(signature, d, padding.PKCS1v15(), Prehashed(hashes.SHA256()))  # type: ignore[union-attr]
    (tmp_path / "v1.xml").write_bytes(signed_xml)
    proc = xmlsec_verify(xmlsec1, demo, tmp_path / "v1.xml")
    assert proc.returncode == 0, proc.stderr
