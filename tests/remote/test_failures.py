"""Each way remote signing fails gives its stable code, asks nothing it should not, and loses
nothing already signed."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from agent.errors import KysoError
from agent.remote.csc import Authorization, sign_algo_for
from agent.remote.directory import RemoteCredential, RemoteDirectory, RemoteService
from agent.remote.prompt import StaticCredentialPrompter
from agent.signing.xml import sign_xml
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import SmsPrompter, make_provider, remote_signer
from tests.signing_xml.helpers import HOSO, xmlsec_verify

ALG = SignatureAlgorithm.RSA_PKCS1_SHA256


def _digests(n: int) -> list[bytes]:
    return [hashlib.sha256(f"hồ sơ {i}".encode()).digest() for i in range(n)]


async def test_wrong_pin_is_refused_once_and_never_retried(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    prompter = StaticCredentialPrompter("000000")
    signer = remote_signer(service, credentials["org"], prompter)
    with pytest.raises(KysoError) as err:
        await signer.sign(b"x", ALG)
    assert err.value.code == "REMOTE_AUTH_REFUSED"
    assert err.value.details["reason"] == "invalid_pin"
    assert "PIN" in err.value.message_en and "mã PIN" in err.value.message_vi
    assert len(prompter.requests) == 1 and csc.server.state.authorize_calls == 1
    assert csc.server.state.sign_hash_calls == 0


async def test_wrong_otp_is_refused(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    prompter = SmsPrompter(csc.server, otp="999999x")
    with pytest.raises(KysoError) as err:
        await remote_signer(service, credentials["personal_otp"], prompter).sign(b"x", ALG)
    assert err.value.code == "REMOTE_AUTH_REFUSED"
    assert err.value.details["reason"] == "invalid_otp"
    assert csc.server.state.sign_hash_calls == 0


async def test_cancelled_prompt_sends_nothing(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    class Cancel:
        async def get_credential_secrets(self, request: Any) -> None:
            return None

    with pytest.raises(KysoError) as err:
        await remote_signer(service, credentials["org"], Cancel()).sign(b"x", ALG)
    assert err.value.code == "USER_CANCELLED"
    assert csc.server.state.authorize_calls == 0


async def test_revoked_credential_is_refused_before_asking_anything(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    prompter = StaticCredentialPrompter("246810")
    with pytest.raises(KysoError) as err:
        await remote_signer(service, credentials["revoked"], prompter).sign(b"x", ALG)
    assert err.value.code == "REMOTE_CREDENTIAL_INVALID"
    assert err.value.details["status"] == "disabled"
    assert prompter.requests == [] and csc.server.state.authorize_calls == 0


async def test_credential_revoked_after_listing_is_refused_by_the_service(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    """The listing said "enabled"; by the time of signing the provider revoked it."""
    stale = credentials["revoked"]
    looked_fine = RemoteCredential(
        stale.provider,
        dataclasses.replace(stale.details, key_status="enabled", cert_status="valid"),
    )
    with pytest.raises(KysoError) as err:
        await remote_signer(service, looked_fine).sign(b"x", ALG)
    assert err.value.code == "REMOTE_CREDENTIAL_INVALID"
    assert err.value.details["status"] == "revoked"
    assert csc.server.state.sign_hash_calls == 0


async def test_credential_with_an_expired_certificate_is_refused_before_asking(
    csc: Any, service: RemoteService
) -> None:
    csc.server.state.expired = {"kyso/org"}
    [org] = [
        c
        for c in await RemoteDirectory([service]).list_credentials()
        if c.credential_id == "kyso/org"
    ]
    listed = org.to_json()
    assert listed["remote_status"] == "expired" and "REMOTE_DISABLED" in listed["problems"]
    prompter = StaticCredentialPrompter("246810")
    with pytest.raises(KysoError) as err:
        await remote_signer(service, org, prompter).sign(b"x", ALG)
    assert err.value.code == "REMOTE_CREDENTIAL_INVALID"
    assert err.value.details["status"] == "expired"
    assert err.value.message_vi and err.value.message_en
    assert prompter.requests == [] and csc.server.state.authorize_calls == 0


async def test_credential_expired_after_listing_is_refused_by_the_service(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    csc.server.state.expired = {"kyso/org"}  # listed as valid a moment ago
    with pytest.raises(KysoError) as err:
        await remote_signer(service, credentials["org"]).sign(b"x", ALG)
    assert err.value.code == "REMOTE_CREDENTIAL_INVALID"
    assert err.value.details["status"] == "expired"
    assert csc.server.state.sign_hash_calls == 0


async def test_service_that_stops_answering_mid_batch_keeps_what_was_signed(
    csc: Any, secret_file: Path, credentials: dict[str, RemoteCredential]
) -> None:
    # The service hangs on its second signHash call; the provider gives up after 5 s.
    svc = RemoteService(make_provider(csc.url, secret_file, timeout_seconds=5))
    try:
        csc.server.state.stall_sign_hash_after = 1
        signer = remote_signer(svc, credentials["org"])
        digests = _digests(25)  # three authorisations of at most 10 (multisign)
        results = await signer.sign_digests(digests, ALG)
    finally:
        await svc.close()
    assert csc.server.state.stalled.is_set()
    signed, failed = results[:10], results[10:]
    key = credentials["org"].info.certificate.public_key()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    for sig, digest in zip(signed, digests, strict=False):
        assert isinstance(sig, bytes)
        key.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    assert all(isinstance(r, KysoError) and r.code == "REMOTE_TIMEOUT" for r in failed)
    assert csc.server.state.sign_hash_calls == 2  # nothing sent after the failure
    assert signer.authorizations == 2


async def test_concurrent_documents_batch_and_survive_a_stall(
    csc: Any,
    secret_file: Path,
    demo: dict[str, Any],
    xmlsec1: str,
    tmp_path: Path,
) -> None:
    """5 dossiers signed concurrently through collect(), 3 signatures per authorisation: two
    authorisations (3 + 2), one PIN prompt. The service hangs on the second signHash, so the
    first 3 documents are kept and verify; the other 2 fail with REMOTE_TIMEOUT."""
    csc.server.state.multisign = 3
    svc = RemoteService(make_provider(csc.url, secret_file, timeout_seconds=5))
    prompter = StaticCredentialPrompter("246810")
    try:
        credentials = {c.credential_id: c for c in await RemoteDirectory([svc]).list_credentials()}
        signer = remote_signer(svc, credentials["kyso/org"], prompter)
        csc.server.state.stall_sign_hash_after = 1
        async with signer.collect(5) as batch:
            results = await asyncio.gather(
                *(batch.run(sign_xml(HOSO, signer, "bhxh")) for _ in range(5)),
                return_exceptions=True,
            )
    finally:
        await svc.close()
    done = [r for r in results if isinstance(r, bytes)]
    failed = [r for r in results if not isinstance(r, bytes)]
    assert len(done) == 3 and len(failed) == 2, results
    assert {getattr(f, "code", None) for f in failed} == {"REMOTE_TIMEOUT"}
    assert len(prompter.requests) == 1 and signer.authorizations == 2
    for i, doc in enumerate(done):
        (tmp_path / f"{i}.xml").write_bytes(doc)
        assert xmlsec_verify(xmlsec1, demo, tmp_path / f"{i}.xml").returncode == 0


async def test_more_documents_than_executor_threads_still_finish(
    service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    """The XML signer blocks one executor thread per document while it waits for its
    signature; with more documents than threads the batch must still complete."""
    signer = remote_signer(service, credentials["org"])
    async with signer.collect(40) as batch:
        results = await asyncio.gather(
            *(batch.run(sign_xml(HOSO, signer, "bhxh")) for _ in range(40))
        )
    assert all(isinstance(r, bytes) for r in results)
    assert signer.authorizations >= 4  # at most 10 per authorisation


async def test_a_failing_item_does_not_hold_up_the_batch(
    service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    signer = remote_signer(service, credentials["org"])

    async def broken() -> bytes:
        raise ValueError("bad item")  # fails before it ever asks for a signature

    async with signer.collect(3) as batch:
        results = await asyncio.gather(
            batch.run(sign_xml(HOSO, signer, "bhxh")),
            batch.run(broken()),
            batch.run(sign_xml(HOSO, signer, "bhxh")),
            return_exceptions=True,
        )
    assert isinstance(results[0], bytes) and isinstance(results[2], bytes)
    assert isinstance(results[1], ValueError)
    assert signer.authorizations == 1


async def test_session_expired_between_authorisation_and_signing(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    csc.server.state.after_authorize = csc.server.expire_tokens
    signer = remote_signer(service, credentials["org"])
    with pytest.raises(KysoError) as err:
        await signer.sign(b"x", ALG)
    assert err.value.code == "REMOTE_TOKEN_EXPIRED"
    assert csc.server.state.sign_hash_calls == 0  # refused at the door: nothing was signed
    # The next attempt signs in again (client credentials) and succeeds.
    csc.server.state.after_authorize = None
    assert len(await signer.sign(b"x", ALG)) == 256


async def test_sad_past_its_lifetime_is_not_sent(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    org = credentials["org"].credential_id
    spent = Authorization("c2Fk", 1, expires_at=time.monotonic() - 1)
    algo = sign_algo_for(ALG, credentials["org"].details.algorithms)
    with pytest.raises(KysoError) as err:
        await service.client.sign_hash(org, spent, _digests(1), algo)
    assert err.value.code == "REMOTE_TOKEN_EXPIRED"
    assert csc.server.state.sign_hash_calls == 0


async def test_unreachable_service_is_reported_per_provider(
    secret_file: Path, csc: Any, service: RemoteService
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{dead_port}"
    dead = RemoteService(dataclasses.replace(make_provider(url, secret_file), name="dead"))
    directory = RemoteDirectory([dead, service])
    try:
        found = await directory.list_credentials()
    finally:
        await dead.close()
    assert {c.source for c in found} == {"remote:demo"}  # the live provider still lists
    status = directory.statuses["dead"]
    assert not status.ok and status.error is not None
    assert status.error["code"] == "REMOTE_UNREACHABLE"
    assert directory.statuses["demo"].ok and directory.statuses["demo"].credentials == 4


async def test_wrong_signatures_never_reach_a_document(
    csc: Any, service: RemoteService, credentials: dict[str, RemoteCredential]
) -> None:
    csc.server.state.tamper = True
    with pytest.raises(KysoError) as err:
        await sign_xml(HOSO, remote_signer(service, credentials["org"]), "bhxh")
    assert err.value.code == "REMOTE_PROTOCOL_ERROR"


async def test_wrong_client_secret_is_a_configuration_error_not_the_pin(
    csc: Any, tmp_path: Path, credentials: dict[str, RemoteCredential]
) -> None:
    bad = tmp_path / "bad-secret"
    bad.write_text("nope")
    svc = RemoteService(make_provider(csc.url, bad))
    try:
        directory = RemoteDirectory([svc])
        assert await directory.list_credentials() == []
    finally:
        await svc.close()
    error = directory.statuses["demo"].error
    assert error is not None
    # The administrator's mistake, not the user's PIN: "check the PIN" would spend PIN tries.
    assert error["code"] == "REMOTE_CLIENT_REFUSED"
    assert "administrator" in error["action_en"] and "quản trị viên" in error["action_vi"]
