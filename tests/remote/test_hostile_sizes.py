"""A hostile or broken provider cannot crash the listing nor fill the agent's memory: any
unreadable answer (nested past the recursion limit, too large) is that provider's
REMOTE_PROTOCOL_ERROR; each answer is capped by what its CSC method needs, a listing reads a
bounded number of bytes in all and asks credentials/info a few at a time; an unexpected
exception is still that provider's failure. The evil provider is a real server on loopback
(tests/remote/hostile.py); the real CSC test service is listed beside it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from agent.demo.remote import RunningService
from agent.errors import KysoError
from agent.remote import directory as directory_module
from agent.remote.csc import Authorization, CscClient, SignAlgo
from agent.remote.directory import RemoteDirectory, RemoteService
from agent.remote.http import ANSWER_BYTES, answer_cap
from tests.remote.hostile import EvilProvider, deep, evil, floats  # noqa: F401 - fixture

LIST_100 = (200, json.dumps({"credentialIDs": [f"c{i}" for i in range(100)]}).encode())


def _ok(body: bytes) -> Any:
    return lambda request: (200, body)


async def _listing(provider: EvilProvider, *others: RemoteService) -> RemoteDirectory:
    service = RemoteService(provider.provider())
    directory = RemoteDirectory([service, *others])
    try:
        await directory.list_credentials()
    finally:
        await service.close()
    return directory


def _failure(directory: RemoteDirectory, name: str = "evil") -> dict[str, Any]:
    status = directory.statuses[name]
    assert not status.ok and status.error is not None
    return status.error


async def test_an_answer_nested_past_the_recursion_limit_is_a_protocol_error(
    evil: EvilProvider,  # noqa: F811
) -> None:
    evil.answers["credentials/list"] = _ok(deep(100_000))  # under the cap: parsed
    service = RemoteService(evil.provider())
    try:
        with pytest.raises(KysoError) as err:
            await service.client.list_credentials(interactive=False)
    finally:
        await service.close()
    assert err.value.code == "REMOTE_PROTOCOL_ERROR"
    assert "not a JSON object" in err.value.details["detail"]


async def test_a_nested_error_answer_is_classified_without_its_body(
    evil: EvilProvider,  # noqa: F811
) -> None:
    evil.answers["credentials/list"] = lambda request: (400, deep(100_000))
    service = RemoteService(evil.provider())
    try:
        with pytest.raises(KysoError) as err:
            await service.client.list_credentials(interactive=False)
    finally:
        await service.close()
    assert err.value.details["detail"] == "credentials/list: HTTP 400"


async def test_a_provider_answering_nonsense_is_marked_failed_and_the_others_listed(
    evil: EvilProvider,  # noqa: F811
    service: RemoteService,
) -> None:
    evil.answers["credentials/list"] = _ok(deep(200_000))  # the red team's answer
    directory = await _listing(evil, service)
    assert _failure(directory)["code"] == "REMOTE_PROTOCOL_ERROR"
    assert directory.statuses["demo"].ok and directory.statuses["demo"].credentials == 4
    assert [(p.name, state) for p, state in directory.missing()] == [("evil", "unreachable")]


async def test_a_nested_credential_is_skipped_and_its_id_logged_escaped(
    evil: EvilProvider,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    forged = 'c1\nWARNING agent.server: forged "line"'
    evil.answers["credentials/list"] = _ok(json.dumps({"credentialIDs": [forged]}).encode())
    evil.answers["credentials/info"] = _ok(deep(5_000))
    caplog.set_level(logging.WARNING, logger="agent.remote")
    directory = await _listing(evil)
    assert directory.statuses["evil"].ok and directory.statuses["evil"].credentials == 0
    lines = [r.getMessage() for r in caplog.records if "credential" in r.getMessage()]
    assert lines == [f"remote evil: credential {forged!r}: REMOTE_PROTOCOL_ERROR"]
    assert all("\n" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
async def test_an_answer_past_its_methods_cap_is_refused_unparsed(
    evil: EvilProvider,  # noqa: F811
    chunked: bool,
) -> None:
    evil.chunked = chunked
    evil.answers["credentials/info"] = _ok(floats(ANSWER_BYTES["credentials/info"] + 1024))
    service = RemoteService(evil.provider())
    try:
        with pytest.raises(KysoError) as err:
            await service.client.credential_info("c1", interactive=False)
    finally:
        await service.close()
    assert err.value.details["detail"] == "credentials/info: answer too large"


async def test_the_signhash_cap_grows_with_the_number_of_hashes(
    evil: EvilProvider,  # noqa: F811
) -> None:
    body = json.dumps({"signatures": ["QUFB" * 25_000]}).encode()  # 100 KB
    assert answer_cap("signatures/signHash", 1) < len(body) < answer_cap("signatures/signHash", 20)
    evil.answers["signatures/signHash"] = _ok(body)
    service = RemoteService(evil.provider())
    client: CscClient = service.client
    authorization = Authorization("sad", 20, None)
    algo = SignAlgo("1.2.840.113549.1.1.11", "2.16.840.1.101.3.4.2.1")
    try:
        details = []
        for count in (1, 20):
            with pytest.raises(KysoError) as err:
                await client.sign_hash("c1", authorization, [b"\0" * 32] * count, algo)
            details.append(err.value.details["detail"])
    finally:
        await service.close()
    # One hash: refused for its size; twenty: read, and refused for what it says.
    assert details == [
        "signatures/signHash: answer too large",
        "signatures/signHash: expected 20 signatures",
    ]


async def test_credentials_info_is_asked_a_few_at_a_time(
    evil: EvilProvider,  # noqa: F811
) -> None:
    evil.answers["credentials/list"] = lambda request: LIST_100
    evil.hold_seconds = 0.02  # answers overlap; the bound holds whatever the timing
    directory = await _listing(evil)
    assert evil.served["credentials/info"] == 100 and directory.statuses["evil"].ok
    assert evil.most_in_flight <= directory_module.INFO_CONCURRENCY


async def test_a_listing_reads_a_bounded_number_of_bytes_in_all(
    evil: EvilProvider,  # noqa: F811
    service: RemoteService,
) -> None:
    """100 credentials whose answers are each just under the cap: the listing stops once
    LISTING_BUDGET_BYTES are read and the provider is marked failed (nothing half-listed)."""
    each = ANSWER_BYTES["credentials/info"] - 1024
    evil.answers["credentials/list"] = lambda request: LIST_100
    evil.answers["credentials/info"] = _ok(floats(each))
    directory = await _listing(evil, service)
    error = _failure(directory)
    assert error["code"] == "REMOTE_PROTOCOL_ERROR"
    assert "answers over" in error["details"]["detail"]
    budget = directory_module.LISTING_BUDGET_BYTES
    assert evil.served["credentials/info"] <= budget // each + directory_module.INFO_CONCURRENCY
    assert directory.statuses["demo"].ok  # the other provider is listed all the same


@pytest.mark.parametrize("where", ["list_credentials", "credential_info"])
async def test_an_unexpected_exception_is_that_providers_failure(
    evil: EvilProvider,  # noqa: F811
    csc: RunningService,
    service: RemoteService,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """Defence in depth: whatever escapes the CSC client (a bug of ours) fails the provider
    it came from (or the one credential), never the listing."""
    evil.answers["credentials/list"] = _ok(b'{"credentialIDs": ["c1"]}')
    real = getattr(CscClient, where)

    async def broken(self: CscClient, *args: Any, **kwargs: Any) -> Any:
        if self.provider.name == "evil":
            raise RecursionError("maximum recursion depth exceeded")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(CscClient, where, broken)
    directory = await _listing(evil, service)
    assert directory.statuses["demo"].ok and directory.statuses["demo"].credentials == 4
    if where == "list_credentials":
        assert _failure(directory)["details"]["detail"] == "RecursionError"
    else:
        assert directory.statuses["evil"].ok and directory.statuses["evil"].credentials == 0


async def test_a_sad_lifetime_of_400_digits_is_capped_not_an_internal_error(
    evil: EvilProvider,  # noqa: F811
) -> None:
    """credentials/authorize answering expiresIn: 10**400 overflowed time.monotonic() + it
    (OverflowError, INTERNAL_ERROR after the PIN was sent); the lifetime is capped at a day."""
    body = json.dumps({"SAD": "s", "expiresIn": 10**400}).encode()
    evil.answers["credentials/authorize"] = _ok(body)
    service = RemoteService(evil.provider())
    try:
        authorization = await service.client.authorize("c0", [b"\0" * 32], "2.16.840.1.101.3.4.2.1")
    finally:
        await service.close()
    assert authorization.expires_at is not None and not authorization.expired
