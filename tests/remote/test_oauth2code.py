"""Credential authorisation by OAuth2 (CSC v2 ``oauth2code``, SCAL 2): when
``credentials/info`` says ``authMode: "oauth2code"``, Kyso asks no PIN itself. The user
approves at the provider's page in the browser with ``scope=credential``, the credential, the
number of signatures and the exact hashes (base64url, comma-separated) with their algorithm;
the access token that comes back replaces the SAD in ``signatures/signHash``, which the service
accepts only for those hashes and that many signatures."""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.demo.remote import CredentialRequest, RunningService
from agent.errors import KysoError
from agent.remote.csc import sign_algo_for
from agent.remote.directory import RemoteCredential, RemoteDirectory, RemoteService
from agent.remote.prompt import StaticCredentialPrompter
from agent.signing.remote import RemoteSigner
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import Browser, make_provider

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
    prompter = StaticCredentialPrompter()
    try:
        assert org.details.auth_mode == "oauth2code" and not org.details.need_pin
        digests = [hashlib.sha256(f"tờ khai {i}".encode()).digest() for i in range(3)]
        signer = RemoteSigner.open(org, service, prompter)
        results = await signer.sign_digests(digests, RSA)
        # The service's own client token still lists: the credential token did not replace it.
        assert "kyso/org" in await service.client.list_credentials()
    finally:
        await service.close()
    assert prompter.requests == []  # the provider's page asks, never Kyso's window
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
