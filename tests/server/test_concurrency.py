"""Many pages at once, queues and limits, user cancel and timeouts, restart, hot-plug, PIN cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.server.app import CORE_KEY
from tests.conftest import cert_thumbprint
from tests.server.conftest import ORIGIN, plug_and_unplug

OTHER = "https://other.kyso.test"


def digest_of(i: int) -> bytes:
    return hashlib.sha256(f"document {i}".encode()).digest()


def sign_params(demo, i: int, name: str = "org") -> dict:
    return {
        "digest": base64.b64encode(digest_of(i)).decode(),
        "certificate": cert_thumbprint(demo, name),
    }


def verify_rsa(result: dict, digest: bytes) -> None:
    cert = x509.load_der_x509_certificate(base64.b64decode(result["certificate"]))
    cert.public_key().verify(
        base64.b64decode(result["signature"]),
        digest,
        padding.PKCS1v15(),
        Prehashed(hashes.SHA256()),
    )


def code(reply: dict) -> str:
    return "OK" if "result" in reply else reply["error"]["data"]["code"]


async def until(condition, timeout: float = 30) -> None:
    """Wait until ``condition()`` holds, re-checking between event-loop turns: sequencing by
    the state the test needs, never by a guess of how long something takes."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


class GatedConsent:
    """A spy on the real scripted prompter's consent question: records who is asked and holds
    every answer until the test opens the gate (a user who has not clicked yet)."""

    def __init__(self, prompter) -> None:
        self.asked: list[str] = []
        self.open = asyncio.Event()
        self._answer = prompter.consent
        prompter.consent = self.consent

    async def consent(self, request) -> bool:
        self.asked.append(request.origin)
        await self.open.wait()
        return await self._answer(request)


async def test_fifty_concurrent_clients_each_get_their_own_signature(demo, harness) -> None:
    # 50 sockets from one origin: within its share (a quarter) of max_connections.
    await harness.start(max_queue=64, max_pending_per_origin=64, max_connections=200)
    clients = await asyncio.gather(*(harness.client() for _ in range(50)))

    async def one(i: int) -> None:
        reply = await clients[i].request("sign.hash", sign_params(demo, i))
        verify_rsa(reply["result"], digest_of(i))  # this client's digest, nobody else's

    await asyncio.gather(*(one(i) for i in range(50)))
    assert all(not c.unmatched for c in clients)
    assert harness.prompter.count("consent") == 50 and harness.prompter.count("pin") == 50
    assert sum(1 for line in harness.audit_lines() if line["result"] == "OK") == 50


async def test_queue_is_bounded_then_busy(demo, harness) -> None:
    await harness.start(max_queue=1, max_pending_per_origin=10)
    gate = GatedConsent(harness.prompter)
    clients = await asyncio.gather(*(harness.client() for _ in range(4)))
    requests = [
        asyncio.create_task(c.request("sign.hash", sign_params(demo, i)))
        for i, c in enumerate(clients)
    ]
    # One request has the token (its consent is on screen), one waits its turn, the queue
    # (max_queue=1) is full: the other two are told BUSY at once, while the user still reads.
    await until(lambda: sum(r.done() for r in requests) == 2)
    assert sorted(code(r.result()) for r in requests if r.done()) == ["BUSY", "BUSY"]
    assert len(gate.asked) == 1
    gate.open.set()
    replies = await asyncio.gather(*requests)
    assert sorted(code(r) for r in replies) == ["BUSY", "BUSY", "OK", "OK"]


async def test_user_cancel_and_timeout_are_clean_errors(demo, harness) -> None:
    await harness.start(prompt_timeout_seconds=1)
    client = await harness.client()
    harness.prompter.path.write_text(json.dumps({"consent": "deny", "pin": "123456"}))
    assert code(await client.request("sign.hash", sign_params(demo, 1))) == "USER_CANCELLED"
    harness.prompter.path.write_text(json.dumps({"consent": "allow", "pin": None}))
    assert code(await client.request("sign.hash", sign_params(demo, 2))) == "USER_CANCELLED"
    harness.prompter.path.write_text(json.dumps({"consent": "allow", "pin": "000000"}))
    assert code(await client.request("sign.hash", sign_params(demo, 3))) == "PIN_INCORRECT"
    harness.prompter.path.write_text(
        json.dumps({"consent": "allow", "pin": "123456", "delay_seconds": {"consent": 5}})
    )
    reply = await client.request("sign.hash", sign_params(demo, 4))
    assert code(reply) == "USER_TIMEOUT"
    assert reply["error"]["code"] == 2006
    harness.prompter.path.write_text(json.dumps({"consent": "allow", "pin": "123456"}))
    assert code(await client.request("sign.hash", sign_params(demo, 5))) == "OK"
    results = [line["result"] for line in harness.audit_lines()]
    assert results == ["USER_CANCELLED", "USER_CANCELLED", "PIN_INCORRECT", "USER_TIMEOUT", "OK"]


async def test_a_page_leaving_never_cancels_another_origins_operation(demo, harness) -> None:
    await harness.start(allowed_origins=[ORIGIN, OTHER], sign_hash_origins=[ORIGIN, OTHER])
    gate = GatedConsent(harness.prompter)
    limiter = harness.agent.runner.app[CORE_KEY].limiter
    first = await harness.client(ORIGIN)
    second = await harness.client(OTHER)
    a = asyncio.create_task(first.request("sign.hash", sign_params(demo, 1)))
    await until(lambda: gate.asked == [ORIGIN])  # the first page's consent is on screen
    b = asyncio.create_task(second.request("sign.hash", sign_params(demo, 2)))
    await until(lambda: limiter.pending(OTHER) == 1)
    c = await second.request("sign.hash", sign_params(demo, 3))
    assert code(c) == "ACTION_PENDING"  # the same page cannot stack a second request
    gate.open.set()
    assert code(await a) == "OK" and code(await b) == "OK"
    # Now the other way round: the first page goes away mid-consent; the second still signs.
    gate.open.clear()
    asked = len(gate.asked)
    a = asyncio.create_task(first.request("sign.hash", sign_params(demo, 4)))
    await until(lambda: gate.asked[asked:] == [ORIGIN])
    b = asyncio.create_task(second.request("sign.hash", sign_params(demo, 5)))
    await until(lambda: limiter.pending(OTHER) == 1)
    await first.ws.close()
    await until(lambda: limiter.pending(ORIGIN) == 0)  # its request stopped with the page
    assert limiter.pending(OTHER) == 1 and not b.done()  # the other page's is still there
    gate.open.set()
    assert code(await b) == "OK"
    await asyncio.gather(a, return_exceptions=True)
    signed = [line for line in harness.audit_lines() if line["result"] == "OK"]
    assert len(signed) == 3  # 1, 2 and 5; never 4


async def test_restart_while_clients_are_connected(demo, harness) -> None:
    agent = await harness.start()
    port = agent.port
    clients = [await harness.client() for _ in range(3)]
    await agent.stop()
    for client in clients:
        await asyncio.wait_for(client._reader, 10)
        assert client.ws.close_code == 1001  # going away: reconnect later
    await harness.start(port=port, max_pending_per_origin=3)
    assert harness.port == port
    again = [await harness.client() for _ in range(3)]
    replies = await asyncio.gather(
        *(c.request("sign.hash", sign_params(demo, i)) for i, c in enumerate(again))
    )
    assert [code(r) for r in replies] == ["OK"] * 3


async def test_tokens_changed_is_sent_to_every_page(demo, harness) -> None:
    await harness.start()
    clients = [await harness.client() for _ in range(2)]
    await plug_and_unplug(harness, "KYSO HOTPLUG")
    await until(lambda: all(len(c.notifications) >= 2 for c in clients))
    for client in clients:
        events = [
            (n["params"]["event"], n["params"]["token"]["label"])
            for n in client.notifications
            if n["method"] == "tokens.changed"
        ]
        assert events == [("inserted", "KYSO HOTPLUG"), ("removed", "KYSO HOTPLUG")]


async def test_pin_cache_asks_the_pin_once_but_consent_every_time(demo, harness) -> None:
    await harness.start(pin_cache={"enabled": True, "idle_seconds": 60})
    client = await harness.client()
    for i in range(3):
        assert code(await client.request("sign.hash", sign_params(demo, i))) == "OK"
    assert harness.prompter.count("consent") == 3
    assert harness.prompter.count("pin") == 1
    # Another key on the same token: logged out of the first, PIN asked again.
    assert code(await client.request("sign.hash", sign_params(demo, 9, "ec"))) == "OK"
    assert harness.prompter.count("pin") == 2


async def test_a_cached_pin_signs_only_for_the_site_it_was_typed_for(demo, harness) -> None:
    """The PIN cache keeps a login per site: another page (another origin) is asked the PIN,
    so a PIN typed for the portal never lets a second paired site sign with a consent alone."""
    other = "https://other.kyso.test"
    both = [ORIGIN, other]
    await harness.start(
        pin_cache={"enabled": True, "idle_seconds": 60},
        allowed_origins=both,
        sign_hash_origins=both,
    )
    portal, stranger = await harness.client(), await harness.client(other)
    for client, pins in ((portal, 1), (stranger, 2), (stranger, 2), (portal, 3)):
        assert code(await client.request("sign.hash", sign_params(demo, pins))) == "OK"
        assert harness.prompter.count("pin") == pins
    assert harness.prompter.count("consent") == 4


async def test_pin_cache_logs_out_when_idle(demo, token_service) -> None:
    from agent.tokens.algorithms import SignatureAlgorithm
    from agent.tokens.pin import StaticPinProvider
    from agent.tokens.service import LoginCache

    # A short idle time straight on the cache (settings allow 10 s at least).
    cache = LoginCache(0.05)
    pins = StaticPinProvider("123456")
    cert = await token_service.find_certificate(cert_thumbprint(demo, "org"))
    for _ in range(2):
        async with token_service.reserve(cert) as turn, turn.key(pins, cache=cache) as key:
            await key.sign_digest(digest_of(1), SignatureAlgorithm.RSA_PKCS1_SHA256)
    assert len(pins.requests) == 1 and cache.cached_tokens == 1
    # The idle timer fires by itself. Wait for its logout to have finished, not merely begun:
    # the cache forgets the login before the session is closed on the token.
    await until(lambda: cache.cached_tokens == 0 and not cache.busy)
    async with token_service.reserve(cert) as turn, turn.key(pins, cache=cache):
        pass
    assert len(pins.requests) == 2  # logged out: the PIN is asked again
    await cache.close()
    assert cache.cached_tokens == 0
