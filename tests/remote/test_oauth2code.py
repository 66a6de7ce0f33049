"""Credential authorisation by OAuth2 (CSC v2 ``oauth2code``, SCAL 2): when
``credentials/info`` says ``authMode: "oauth2code"``, Kyso asks no PIN itself. The user
approves at the provider's page in the browser with ``scope=credential``, the credential, the
number of signatures and the exact hashes (base64url, comma-separated) with their algorithm;
the access token that comes back replaces the SAD in ``signatures/signHash``, which the service
accepts only for those hashes and that many signatures."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.demo.remote import CLIENT_ID, CredentialRequest, RunningService
from agent.errors import KysoError
from agent.remote.csc import sign_algo_for
from agent.remote.directory import RemoteCredential, RemoteDirectory, RemoteService
from agent.remote.prompt import StaticCredentialPrompter
from agent.server.context import Services
from agent.server.runner import serve
from agent.signing.remote import RemoteSigner
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import Browser, make_provider
from tests.remote.listing import list_certificates
from tests.server.conftest import (  # noqa: F401 - fixtures
    Answers,
    Harness,
    answers,
    client_ssl,
    harness,
    make_settings,
    prompter,
    server_cert,
)
from tests.server.test_methods import dossier, xmlsec_verify

SHA256_OID = "2.16.840.1.101.3.4.2.1"
RSA = SignatureAlgorithm.RSA_PKCS1_SHA256


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _oauth2code_org(
    csc: RunningService, secret_file: Path, browser: Browser
) -> tuple[RemoteService, RemoteCredential]:
    """The provider's "org" credential, switched to oauth2code, as Kyso lists it."""
    csc.server.state.oauth2code = {"kyso/org"}
    service = RemoteService(make_provider(csc.url, secret_file), browser=browser)
    found = await RemoteDirectory([service]).list_credentials()
    return service, next(c for c in found if c.credential_id == "kyso/org")


async def test_oauth2code_credential_is_authorised_in_the_browser_for_exact_hashes(
    csc: RunningService, secret_file: Path
) -> None:
    browser = Browser()
    service, org = await _oauth2code_org(csc, secret_file, browser)
    kyso_window = StaticCredentialPrompter()
    try:
        assert org.details.auth_mode == "oauth2code" and not org.details.need_pin
        digests = [hashlib.sha256(f"tờ khai {i}".encode()).digest() for i in range(3)]
        signer = RemoteSigner.open(org, service, kyso_window)
        results = await signer.sign_digests(digests, RSA)
        # The service's own client token still lists: the credential token did not replace it.
        assert "kyso/org" in await service.client.list_credentials()
    finally:
        await service.close()
    assert kyso_window.requests == []  # the provider's page asks, never Kyso's window
    assert len(browser.opened) == 1 and csc.server.state.authorize_calls == 0
    query = parse_qs(urlsplit(browser.opened[0]).query)
    assert query["scope"] == ["credential"] and query["credentialID"] == ["kyso/org"]
    assert query["numSignatures"] == ["3"]
    assert query["hashes"] == [",".join(_b64url(d) for d in digests)]
    assert query["hashAlgorithmOID"] == [SHA256_OID]
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    assert csc.server.state.credential_requests == [
        CredentialRequest("kyso/org", tuple(digests), SHA256_OID)
    ]
    key = org.info.certificate.public_key()
    for signature, d in zip(results, digests, strict=True):
        assert isinstance(signature, bytes)
        key.verify(signature, d, padding.PKCS1v15(), Prehashed(hashes.SHA256()))  # type: ignore[union-attr]


async def test_one_browser_approval_per_multisign_chunk(
    csc: RunningService, secret_file: Path
) -> None:
    csc.server.state.multisign = 2
    browser = Browser()
    service, org = await _oauth2code_org(csc, secret_file, browser)
    try:
        digests = [hashlib.sha256(bytes([i])).digest() for i in range(3)]
        results = await RemoteSigner.open(org, service, StaticCredentialPrompter()).sign_digests(
            digests, RSA
        )
    finally:
        await service.close()
    assert all(isinstance(r, bytes) for r in results)
    assert len(browser.opened) == 2
    assert [len(r.hashes) for r in csc.server.state.credential_requests] == [2, 1]


async def test_the_credential_token_signs_only_the_approved_hashes_once(
    csc: RunningService, secret_file: Path
) -> None:
    browser = Browser()
    service, org = await _oauth2code_org(csc, secret_file, browser)
    approved, other = hashlib.sha256(b"approved").digest(), hashlib.sha256(b"other").digest()
    algo = sign_algo_for(RSA, org.details.algorithms)
    try:
        auth = await service.client.authorize_oauth("kyso/org", [approved], SHA256_OID)
        assert auth.bearer and repr(auth).count(auth.sad) == 0
        with pytest.raises(KysoError) as other_hash:
            await service.client.sign_hash("kyso/org", auth, [other], algo)
        assert len(await service.client.sign_hash("kyso/org", auth, [approved], algo)) == 1
        with pytest.raises(KysoError) as again:
            await service.client.sign_hash("kyso/org", auth, [approved], algo)
        assert "kyso/org" in await service.client.list_credentials()  # own token not dropped
    finally:
        await service.close()
    assert other_hash.value.code == "REMOTE_PROTOCOL_ERROR"
    assert again.value.code == "REMOTE_TOKEN_EXPIRED"  # numSignatures used up


async def test_a_refused_approval_sends_nothing_to_sign(
    csc: RunningService, secret_file: Path
) -> None:
    browser = Browser()
    service, org = await _oauth2code_org(csc, secret_file, browser)
    csc.server.state.consent = "deny"
    try:
        with pytest.raises(KysoError) as err:
            await RemoteSigner.open(org, service, StaticCredentialPrompter()).sign(b"x", RSA)
    finally:
        await service.close()
    assert err.value.code == "REMOTE_AUTH_REFUSED"
    assert err.value.details["reason"] == "access_denied"
    assert csc.server.state.sign_hash_calls == 0


async def test_no_credential_token_or_code_in_the_logs(
    csc: RunningService, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, org = await _oauth2code_org(csc, secret_file, Browser())
    try:
        await RemoteSigner.open(org, service, StaticCredentialPrompter()).sign(b"x", RSA)
        csc.server.state.consent = "deny"
        with pytest.raises(KysoError) as err:
            await RemoteSigner.open(org, service, StaticCredentialPrompter()).sign(b"y", RSA)
    finally:
        await service.close()
    issued: list[Any] = csc.server.state.issued
    assert len(issued) >= 4  # the service token, refresh token, a code, a credential token
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for secret in issued:
        assert secret not in logged
        assert secret not in repr(err.value.to_dict())


async def test_through_the_agent_consent_first_then_one_browser_approval_for_a_batch(
    harness: Harness,  # noqa: F811
    answers: Answers,  # noqa: F811
    csc: RunningService,
    secret_file: Path,
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
) -> None:
    """The running agent, the real scripted prompter and the real service: the batch's one
    consent is in Kyso's window, then the provider's page is opened once for all three hashes;
    Kyso's window asks no PIN, every document verifies, and no token or code is audited."""
    csc.server.state.oauth2code = {"kyso/org"}
    asked_before_browser: list[list[str]] = []
    browser = Browser(
        then=lambda: asked_before_browser.append([p.kind for p in harness.prompter.prompts])
    )
    table = {
        "name": "demo",
        "base_url": csc.url,
        "client_id": CLIENT_ID,
        "auth_flow": "client_credentials",
        "client_secret_file": str(secret_file),
    }
    services = Services(
        harness.tokens, harness.prompter, harness.approvals, harness.audit, browser=browser
    )
    harness.agent = await serve(
        make_settings(remote_providers=[table]), services=services, tls=harness.server_ssl
    )
    client = await harness.client()
    listed = await list_certificates(client)
    org = next(c for c in listed if c.get("credential_id") == "kyso/org")
    assert org["auth_mode"] == "oauth2code" and not org["needs_pin"]
    answers.set(remote_pin="must-not-be-asked")
    items = [
        {
            "kind": "xml",
            "profile": "bhxh",
            "document": base64.b64encode(dossier(f"HS-O{i}")).decode(),
        }
        for i in range(3)
    ]
    result = await client.call("sign.batch", {"items": items, "certificate": org["thumbprint"]})
    assert result["signed"] == 3 and result["failed"] == 0
    for r in result["results"]:
        xmlsec_verify(xmlsec1, demo, base64.b64decode(r["result"]["document"]), tmp_path)
    assert asked_before_browser == [["consent"]]  # the consent came first, in Kyso's window
    assert harness.prompter.count("credential") == 0
    assert len(browser.opened) == 1 and csc.server.state.authorize_calls == 0
    [approved] = csc.server.state.credential_requests
    assert len(approved.hashes) == 3
    audited = json.dumps(harness.audit_lines())
    assert "remote:demo" in audited
    for secret in csc.server.state.issued:
        assert secret not in audited
