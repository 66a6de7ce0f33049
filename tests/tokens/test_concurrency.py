"""Many coroutines at once: every signature verifies, every PKCS#11 call ran on the module's
one worker thread, and a token waiting for a PIN does not block anyone else."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from agent.tokens import SignatureAlgorithm, StaticPinProvider
from agent.tokens.module import Pkcs11Module
from tests.conftest import cert_thumbprint
from tests.tokens.conftest import TOKEN1, TOKEN2, pin_of

TASKS = 20
PER_TASK = 25  # 20 x 25 = 500 signatures

# (demo certificate, algorithm): RSA and EC on token 1, RSA on token 2.
KEYS = [
    ("org", SignatureAlgorithm.RSA_PKCS1_SHA256),
    ("ec", SignatureAlgorithm.ECDSA_SHA256),
    ("org_renewed", SignatureAlgorithm.RSA_PKCS1_SHA256),
]


@pytest.fixture
def pkcs11_threads(monkeypatch) -> list[tuple[str, threading.Thread]]:
    """Record the thread of every call into python-pkcs11: all of them are ``_w_*`` methods
    (of Pkcs11Module or the parts it is made of, agent/tokens/module/), or run inside one."""
    calls: list[tuple[str, threading.Thread]] = []
    for name in [n for n in dir(Pkcs11Module) if n.startswith("_w_")]:
        real = getattr(Pkcs11Module, name)

        def wrapper(*args, __real=real, __name=name, **kwargs):
            calls.append((__name, threading.current_thread()))
            return __real(*args, **kwargs)

        monkeypatch.setattr(Pkcs11Module, name, functools.wraps(real)(wrapper))
    return calls


def verify(cert, signature: bytes, data: bytes, alg: SignatureAlgorithm) -> None:
    """Raise unless ``signature`` over ``data`` verifies with ``cert``'s public key."""
    public = cert.info.certificate.public_key()
    if alg.key_kind.value == "EC":
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


async def test_500_signatures_from_20_tasks_all_on_the_worker_thread(
    demo, token_service, pkcs11_threads
):
    pins = {name: pin_of(demo, TOKEN2 if name == "org_renewed" else TOKEN1) for name, _ in KEYS}
    results: list[tuple[object, bytes, bytes, SignatureAlgorithm]] = []

    async def task(index: int) -> None:
        name, alg = KEYS[index % len(KEYS)]
        async with token_service.open_key(
            cert_thumbprint(demo, name), StaticPinProvider(pins[name])
        ) as key:
            batch = []
            for i in range(PER_TASK):
                data = f"task {index} item {i}".encode()
                if i % 2:  # half through sign_digest, as CMS and raw-hash signing do
                    digest = hashlib.sha256(data).digest()
                    batch.append((data, key.sign_digest(digest, alg)))
                else:
                    batch.append((data, key.sign(data, alg)))
            # All of the task's signatures are queued at once: the worker serialises them.
            signatures = await asyncio.gather(*(call for _, call in batch))
            results.extend(
                (key.certificate, d, s, alg) for (d, _), s in zip(batch, signatures, strict=True)
            )

    await asyncio.wait_for(asyncio.gather(*(task(i) for i in range(TASKS))), timeout=120)

    assert len(results) == TASKS * PER_TASK
    for cert, data, signature, alg in results:
        verify(cert, signature, data, alg)
    assert len({s for _, _, s, alg in results if alg.key_kind.value == "RSA"}) > 1

    worker = token_service.module_for((await token_service.list_tokens())[0]).worker.thread
    signs = [t for name, t in pkcs11_threads if name == "_w_sign"]
    assert len(signs) == TASKS * PER_TASK
    assert {t for _, t in pkcs11_threads} == {worker}  # every call, not only signing
    assert worker is not threading.main_thread()


async def test_one_key_session_shared_by_20_tasks(demo, token_service, pkcs11_threads):
    pins = StaticPinProvider(pin_of(demo, TOKEN1))
    async with token_service.open_key(cert_thumbprint(demo, "ec"), pins) as key:
        alg = SignatureAlgorithm.ECDSA_SHA256

        async def task(index: int) -> list[tuple[bytes, bytes]]:
            out = []
            for i in range(PER_TASK):
                data = f"{index}/{i}".encode()
                out.append((data, await key.sign(data, alg)))
            return out

        per_task = await asyncio.gather(*(task(i) for i in range(TASKS)))
    pairs = [pair for chunk in per_task for pair in chunk]
    assert len(pairs) == TASKS * PER_TASK
    for data, signature in pairs:
        verify(key.certificate, signature, data, alg)
    assert len({t for _, t in pkcs11_threads}) == 1
    assert len(pins.requests) == 1


async def test_listing_is_not_blocked_while_a_task_waits_for_a_pin(demo, token_service):
    class SlowUser:
        """A PIN dialog the user has not answered yet."""

        def __init__(self) -> None:
            self.asked = asyncio.Event()
            self.answer = asyncio.Event()

        async def get_pin(self, request):
            self.asked.set()
            await self.answer.wait()
            return pin_of(demo, TOKEN1)

    user = SlowUser()
    alg = SignatureAlgorithm.RSA_PKCS1_SHA256

    async def sign_on_token1() -> bytes:
        async with token_service.open_key(cert_thumbprint(demo, "org"), user) as key:
            return await key.sign(b"waited for the PIN", alg)

    waiting = asyncio.create_task(sign_on_token1())
    try:
        await asyncio.wait_for(user.asked.wait(), timeout=10)
        # Meanwhile: tokens and certificates list, and the other token signs.
        tokens = await asyncio.wait_for(token_service.list_tokens(), timeout=10)
        assert {TOKEN1, TOKEN2} <= {t.label for t in tokens}
        certs = await asyncio.wait_for(token_service.list_certificates(), timeout=10)
        assert len(certs) == len(demo["certificates"]) + 1  # + the CA certificate object
        other = StaticPinProvider(pin_of(demo, TOKEN2))
        async with token_service.open_key(cert_thumbprint(demo, "org_renewed"), other) as key:
            data = b"token 2 while token 1 waits"
            verify(key.certificate, await asyncio.wait_for(key.sign(data, alg), 10), data, alg)
        assert not waiting.done()
    finally:
        user.answer.set()
    signature = await asyncio.wait_for(waiting, timeout=10)
    org = await token_service.find_certificate(cert_thumbprint(demo, "org"))
    verify(org, signature, b"waited for the PIN", alg)


async def test_opening_a_second_key_on_the_same_token_in_one_task_fails_fast(demo, token_service):
    """Login is per token, so key sessions on one token take turns; a task that asks for a
    second one while holding the first would wait for itself forever. It gets an error."""
    pins = StaticPinProvider(pin_of(demo, TOKEN1))
    async with token_service.open_key(cert_thumbprint(demo, "org"), pins):
        with pytest.raises(RuntimeError, match="already has a key session"):
            async with token_service.open_key(cert_thumbprint(demo, "ec"), pins):
                pass
    # A key on another token is fine inside, and the first token is free again afterwards.
    async with token_service.open_key(cert_thumbprint(demo, "org"), pins):
        other = StaticPinProvider(pin_of(demo, TOKEN2))
        async with token_service.open_key(cert_thumbprint(demo, "org_renewed"), other) as key:
            assert await key.sign(b"nested", SignatureAlgorithm.RSA_PKCS1_SHA256)
    async with token_service.open_key(cert_thumbprint(demo, "ec"), pins) as key:
        assert await key.sign(b"free", SignatureAlgorithm.ECDSA_SHA256)


async def test_cancelled_during_login_leaves_no_session_behind(demo, token_service, monkeypatch):
    """A request cancelled while C_Login runs (a slow real token, a page that went away): the
    login finishes on the worker and the session nobody will use is logged out and closed."""
    started, gate = threading.Event(), threading.Event()
    real_login = Pkcs11Module._w_login

    def slow_login(self, token, user_pin):
        started.set()
        gate.wait(10)
        return real_login(self, token, user_pin)

    monkeypatch.setattr(Pkcs11Module, "_w_login", slow_login)
    thumb = cert_thumbprint(demo, "org_renewed")
    pins = StaticPinProvider(pin_of(demo, TOKEN2))

    async def use() -> None:
        async with token_service.open_key(thumb, pins):
            raise AssertionError("the body must not run: the caller was cancelled")

    task = asyncio.create_task(use())
    await asyncio.wait_for(asyncio.to_thread(started.wait, 10), timeout=15)
    task.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    module = token_service.module_for((await token_service.find_certificate(thumb)).token)
    await module.worker.run(lambda: None)  # everything queued before has run
    assert module._open_sessions == 0
    monkeypatch.undo()
    async with token_service.open_key(thumb, pins) as key:  # the token is free and usable
        assert await key.sign(b"after cancel", SignatureAlgorithm.RSA_PKCS1_SHA256)


async def test_the_token_lock_bounds_its_waiters_with_busy_across_services(demo, token_service):
    """Admission is the token's own lock: one caller holds the turn, ``max_waiting`` wait (in
    order), the next is told BUSY at once; a second service in the process shares the bound."""
    from agent.errors import KysoError
    from agent.tokens.modules import ModuleCandidate
    from agent.tokens.service import TokenService

    other = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
    await other.start(monitor=False)
    try:
        cert = await token_service.find_certificate(cert_thumbprint(demo, "org"))
        cert_b = await other.find_certificate(cert_thumbprint(demo, "org"))
        lock = token_service.module_for(cert.token).token_lock(cert.token.key)
        order: list[int] = []

        async def take(service, c, i: int) -> None:
            async with service.reserve(c, max_waiting=2):
                order.append(i)

        async with token_service.reserve(cert, max_waiting=2):
            waiting = [asyncio.create_task(take(token_service, cert, 1))]
            await asyncio.wait_for(_until(lambda: lock.waiting == 1), 30)
            waiting.append(asyncio.create_task(take(other, cert_b, 2)))
            await asyncio.wait_for(_until(lambda: lock.waiting == 2), 30)
            with pytest.raises(KysoError) as err:  # refused, not queued: no wait here
                await asyncio.create_task(take(other, cert_b, 3))
            assert err.value.code == "BUSY"
            assert order == []  # nobody got in while the turn was held
        await asyncio.wait_for(asyncio.gather(*waiting), 30)
        assert order == [1, 2]  # first come, first served
        assert not lock.locked() and lock.waiting == 0
    finally:
        await other.close()


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)
