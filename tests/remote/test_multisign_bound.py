"""One remote authorisation carries a bounded number of hashes, whatever the provider claims.

``multisign`` (how many signatures one credentials/authorize may cover) is the provider's word:
a hostile or careless one saying 10**12 made Kyso send a whole sign.batch (1000 items) in one
credentials/authorize and one signatures/signHash, and accept an answer sized for 1000
signatures (about 4 MB). Kyso now uses the provider's limit only within
``MAX_HASHES_PER_CALL``, and the CSC client refuses a larger request before sending anything.
Against the real CSC test service (certomancer-csc-dummy), which accepts what it advertises."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest

from agent.errors import KysoError
from agent.remote.csc import MAX_HASHES_PER_CALL, Authorization, SignAlgo
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.http import answer_cap
from agent.tokens.algorithms import SignatureAlgorithm
from tests.remote.conftest import remote_signer

ALG = SignatureAlgorithm.RSA_PKCS1_SHA256
RSA_SHA256 = SignAlgo("1.2.840.113549.1.1.11", "2.16.840.1.101.3.4.2.1")


def _digest(i: int) -> bytes:
    return hashlib.sha256(f"hồ sơ {i}".encode()).digest()


async def _org(service: RemoteService) -> Any:
    found = await RemoteDirectory([service]).list_credentials()
    return next(c for c in found if c.credential_id.endswith("/org"))


async def test_a_huge_multisign_is_split_into_bounded_authorisations(
    csc: Any, service: RemoteService
) -> None:
    csc.server.state.multisign = 10**12  # advertised in credentials/info, and honoured
    org = await _org(service)
    assert org.details.multisign == MAX_HASHES_PER_CALL
    assert org.to_json()["multisign"] == MAX_HASHES_PER_CALL
    count = MAX_HASHES_PER_CALL + 1
    digests = [_digest(i) for i in range(count)]
    signer = remote_signer(service, org)
    results = await signer.sign_digests(digests, ALG)
    assert all(isinstance(r, bytes) for r in results), results[:3]
    # Checked against the certificate by the signer; each request held at most the bound.
    state = csc.server.state
    assert state.authorize_calls == state.sign_hash_calls == signer.authorizations == 2


async def test_a_multisign_no_integer_holds_is_the_providers_protocol_error(
    csc: Any, service: RemoteService, caplog: pytest.LogCaptureFixture
) -> None:
    # JSON's 1e999 (the service's writer says Infinity) reads as a float no integer holds: the
    # credential is that provider's REMOTE_PROTOCOL_ERROR, not an unexpected OverflowError.
    csc.server.state.multisign = float("inf")  # type: ignore[assignment]
    caplog.set_level(logging.WARNING, logger="agent.remote")
    directory = RemoteDirectory([service])
    assert await directory.list_credentials() == []
    assert directory.statuses["demo"].ok
    lines = [r.getMessage() for r in caplog.records if "credential" in r.getMessage()]
    assert lines and all(line.endswith(": REMOTE_PROTOCOL_ERROR") for line in lines), lines


@pytest.mark.parametrize("count", [0, MAX_HASHES_PER_CALL + 1])
async def test_the_client_refuses_a_request_past_the_bound_before_sending(
    csc: Any, service: RemoteService, count: int
) -> None:
    org = await _org(service)
    hashes = [_digest(i) for i in range(count)]
    client = service.client
    calls = (
        lambda: client.authorize(org.credential_id, hashes, RSA_SHA256.hash_oid, pin="0"),
        lambda: client.authorize_oauth(org.credential_id, hashes, RSA_SHA256.hash_oid),
        lambda: client.sign_hash(
            org.credential_id, Authorization("sad", count, None), hashes, RSA_SHA256
        ),
    )
    for call in calls:
        with pytest.raises(KysoError) as err:
            await call()
        assert err.value.code == "INPUT_INVALID"
        assert f"1 to {MAX_HASHES_PER_CALL} allowed" in err.value.details["detail"]
    state = csc.server.state
    assert state.authorize_calls == state.sign_hash_calls == 0  # nothing reached the service


def test_the_largest_answer_accepted_stays_small() -> None:
    # The signHash answer's cap follows the hashes sent: bounded with them.
    assert answer_cap("signatures/signHash", MAX_HASHES_PER_CALL) <= 512 * 1024
