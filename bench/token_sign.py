"""Benchmark: what the token layer costs on top of python-pkcs11, measured in the same run.

For RSA-2048 (RSA PKCS#1 v1.5 SHA-256) and ECDSA P-256 (SHA-256) on the demo SoftHSM2 token,
it signs the same message with the same on-token key two ways, alternating in blocks so that
noise from other processes on the machine hits both equally:

- ``layer``: ``TokenService.open_key`` + ``await KeySession.sign`` (the async API every caller
  uses: a hop to the module's worker thread and back, mechanism planning, DER for ECDSA);
- ``direct``: python-pkcs11's ``key.sign`` called in a plain loop (the reference; ECDSA hashes
  first because SoftHSM2 has no CKM_ECDSA_SHA256, exactly as the layer does);
- ``gapped``: the same, idle for one no-op hand-off before each call, as the layer's worker is
  between two signatures (printed to show what a halted vCPU costs the signature itself).

It prints signatures per second and p50/p99 latency for each, and the p50 overhead of the layer
in per cent. Target (issue 14), printed as PASS/FAIL: the layer's RSA-2048 p50 minus one no-op
worker hand-off measured in the same run is within 10 % of direct python-pkcs11's p50. Nothing
here is a test; nothing asserts on time.

Usage::

    .venv/bin/python bench/token_sign.py                 # temporary demo, default counts
    .venv/bin/python bench/token_sign.py --iterations 5000 --kyso-home /tmp/kyso-bench
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Runnable as a script from the repository root without installing anything else.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# bench/ may call python-pkcs11 directly: it is the measuring reference.
from pkcs11 import Attribute, Mechanism, ObjectClass

from agent.tokens import SignatureAlgorithm, StaticPinProvider
from agent.tokens.modules import ModuleCandidate
from agent.tokens.service import TokenService

MESSAGE = b"<Hoso>" + b"x" * 1024 + b"</Hoso>"  # a small document, as a portal sends


@dataclass(frozen=True)
class Case:
    """One key to measure."""

    title: str
    demo_name: str  # demo certificate profile
    algorithm: SignatureAlgorithm


CASES = (
    Case("RSA-2048 PKCS#1 v1.5 SHA-256", "org", SignatureAlgorithm.RSA_PKCS1_SHA256),
    Case("ECDSA P-256 SHA-256", "ec", SignatureAlgorithm.ECDSA_SHA256),
)


@dataclass
class Result:
    """Latencies (seconds) of one path for one case."""

    samples: list[float]
    cpu: float = 0.0  # process CPU seconds (all threads) spent on these calls

    @property
    def p50(self) -> float:
        """Median latency."""
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        """99th percentile latency."""
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def per_second(self) -> float:
        """Signatures per second, from the total time of the measured calls."""
        return len(self.samples) / sum(self.samples)

    @property
    def cpu_per_call(self) -> float:
        """CPU seconds per call, every thread included (wall time minus idle waiting)."""
        return self.cpu / len(self.samples)


def _direct_signer(
    lib: Any, serial: str, key_id: bytes, algorithm: SignatureAlgorithm
) -> tuple[Any, Callable[[], bytes]]:
    """A python-pkcs11 session on the same token and a function signing MESSAGE with the key.

    The token is already logged in by the layer's key session (login is per token), so a
    plain session sees the private key."""
    token = next(
        slot.get_token()
        for slot in lib.get_slots(token_present=True)
        if slot.get_token().serial.decode() == serial
    )
    session = token.open()
    key = session.get_key(ObjectClass.PRIVATE_KEY, id=key_id)
    if algorithm is SignatureAlgorithm.ECDSA_SHA256:

        def sign() -> bytes:
            return key.sign(hashlib.sha256(MESSAGE).digest(), mechanism=Mechanism.ECDSA)

    else:

        def sign() -> bytes:
            return key.sign(MESSAGE, mechanism=Mechanism.SHA256_RSA_PKCS)

    # Fail loudly if the key is not what we think it is.
    assert key[Attribute.ID] == key_id
    return session, sign


async def _time_async(call: Callable[[], Awaitable[bytes]], n: int, out: list[float]) -> None:
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        await call()
        out.append(clock() - start)


def _time_sync(call: Callable[[], bytes], n: int, out: list[float], gap: float = 0.0) -> None:
    clock = time.perf_counter
    for _ in range(n):
        if gap:
            time.sleep(gap)  # idle, as the layer's worker is between two signatures
        start = clock()
        call()
        out.append(clock() - start)


async def _measure(
    service: TokenService,
    manifest: dict[str, Any],
    case: Case,
    iterations: int,
    block: int,
    gap: float,
) -> tuple[Result, Result, Result]:
    cert = await service.find_certificate(manifest["certificates"][case.demo_name]["thumbprint"])
    pin = next(t["user_pin"] for t in manifest["tokens"] if t["label"] == cert.token.label)
    module = service.module_for(cert.token)
    layer, direct, direct_gap = Result([]), Result([]), Result([])
    cpu = time.process_time
    async with service.open_key(cert, StaticPinProvider(pin)) as key:
        # The direct reference runs on the module's own worker thread, like every other
        # PKCS#11 call in the process: one thread per module, even for the measuring stick.
        session, direct_sign = await module.worker.run(
            _direct_signer, module.raw_library(), cert.token.serial, cert.key_id, case.algorithm
        )
        try:

            async def layer_sign() -> bytes:
                return await key.sign(MESSAGE, case.algorithm)

            # Warm-up: first calls pay for caches and page faults.
            await _time_async(layer_sign, min(50, iterations), [])
            await module.worker.run(_time_sync, direct_sign, min(50, iterations), [])
            done = 0
            while done < iterations:
                n = min(block, iterations - done)
                start = cpu()
                await module.worker.run(_time_sync, direct_sign, n, direct.samples)
                direct.cpu += cpu() - start
                start = cpu()
                await _time_async(layer_sign, n, layer.samples)
                layer.cpu += cpu() - start
                start = cpu()
                await module.worker.run(_time_sync, direct_sign, n, direct_gap.samples, gap)
                direct_gap.cpu += cpu() - start
                done += n
        finally:
            await module.worker.run(session.close)
    return layer, direct, direct_gap


def _noop() -> bytes:
    return b""


async def _hand_off(service: TokenService, n: int) -> Result:
    """The cost of one trip to the module's worker thread and back, with nothing to do there:
    the floor under the layer's overhead (a thread switch each way)."""
    module = service.module_for((await service.list_tokens())[0])
    samples: list[float] = []

    async def call() -> bytes:
        return await module.worker.run(_noop)

    await _time_async(call, min(50, n), [])
    start = time.process_time()
    await _time_async(call, n, samples)
    return Result(samples, time.process_time() - start)


def _spin(seconds: float) -> bytes:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # busy, like a signature: the worker's CPU stays awake
        pass
    return b""


async def _idle_hand_off(service: TokenService, n: int, seconds: float) -> Result:
    """The same trip when the worker is busy for ``seconds`` (one signature's time) and the
    event loop sleeps meanwhile: the hand-off a real signature pays, waking included.
    Not the issue's floor (that is the no-op one); printed to show where the layer's time goes."""
    module = service.module_for((await service.list_tokens())[0])
    samples: list[float] = []

    async def call() -> bytes:
        return await module.worker.run(_spin, seconds)

    await _time_async(call, min(50, n), [])
    await _time_async(call, n, samples)
    return Result([max(0.0, t - seconds) for t in samples])


def _table(rows: list[tuple[str, str, Result]]) -> str:
    header = (
        f"{'key / algorithm':<30} {'path':<7} {'sig/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU ms':>8} {'n':>6}"
    )
    lines = [header, "-" * len(header)]
    for title, path, r in rows:
        lines.append(
            f"{title:<30} {path:<7} {r.per_second:>9.0f} {r.p50 * 1e3:>8.3f} "
            f"{r.p99 * 1e3:>8.3f} {r.cpu_per_call * 1e3:>8.3f} {len(r.samples):>6}"
        )
    return "\n".join(lines)


async def _run(kyso_home: Path, iterations: int, ec_iterations: int, block: int) -> int:
    from agent.demo import tokens as demo_tokens

    manifest = await demo_tokens.init()
    demo_tokens.activate()
    service = TokenService(
        [ModuleCandidate(manifest["module"], "SoftHSM2 (Kyso demo tokens)", "demo", True)]
    )
    await service.start(monitor=False)
    rows: list[tuple[str, str, Result]] = []
    ratios: list[tuple[str, float]] = []
    direct_p50: dict[str, float] = {}
    layer_p50: dict[str, float] = {}
    gapped: dict[str, Result] = {}
    try:
        hand_off = await _hand_off(service, iterations)
        for case in CASES:
            n = iterations if case.algorithm.key_kind.value == "RSA" else ec_iterations
            layer, direct, direct_gap = await _measure(
                service, manifest, case, n, block, hand_off.p50
            )
            rows += [
                (case.title, "direct", direct),
                (case.title, "gapped", direct_gap),
                (case.title, "layer", layer),
            ]
            ratios.append((case.title, layer.p50 / direct.p50))
            direct_p50[case.title] = direct.p50
            layer_p50[case.title] = layer.p50
            gapped[case.title] = direct_gap
        rows.append(("worker hand-off, no-op call", "layer", hand_off))
        rsa_title = next(c.title for c in CASES if c.title.startswith("RSA"))
        idle = await _idle_hand_off(service, min(iterations, 500), direct_p50[rsa_title])
    finally:
        await service.close()
    print(f"Token signing on SoftHSM2 ({manifest['module']}), KYSO_HOME={kyso_home}")
    print(f"message {len(MESSAGE)} bytes; direct = python-pkcs11 key.sign; layer = KeySession.sign")
    print()
    print(_table(rows))
    print()
    print("CPU ms = process CPU time per signature, all threads (the rest of p50 is waiting).")
    print(
        "The layer's overhead is one hand-off to the module's worker thread and back; when the\n"
        "event loop's thread has slept through a whole signature, waking it costs more than the\n"
        "no-op hand-off above (idle-CPU wake-up), most on virtual machines. Real USB tokens take\n"
        "10-1000x longer per signature than SoftHSM2, so the same overhead is well under 1% there."
    )
    print()
    for title, ratio in ratios:
        target = " (target <= +10%)" if title.startswith("RSA") else ""
        print(
            f"ratio layer/direct p50 {title}: {ratio:.3f}  overhead {100 * (ratio - 1):+.1f}%{target}"
        )
    rsa = next(title for title, _ in ratios if title.startswith("RSA"))
    print(
        f"floor: one no-op round trip to the worker thread alone is "
        f"{100 * hand_off.p50 / direct_p50[rsa]:+.1f}% of the direct RSA p50 on this machine\n"
        "(the one-thread-per-module rule makes every signature pay it at least once)"
    )
    print(
        f"(not the floor: a hand-off around {direct_p50[rsa] * 1e3:.3f} ms of busy work, the event "
        f"loop asleep meanwhile,\ncosts {idle.p50 * 1e3:.3f} ms at p50: waking the loop's thread "
        "is what the no-op floor does not see)"
    )
    cold = gapped[rsa].p50
    print(
        f"(not the floor either: python-pkcs11 itself, idle {hand_off.p50 * 1e3:.3f} ms before "
        f"each call as the layer's worker is between two signatures,\ntakes {cold * 1e3:.3f} ms "
        f"at p50, {100 * (cold / direct_p50[rsa] - 1):+.1f}% over back-to-back calls: a vCPU "
        "that halted runs the same signature slower; against that reference the layer is\n"
        f"{(layer_p50[rsa] - hand_off.p50) / cold:.3f})"
    )
    print(target_line(layer_p50[rsa], hand_off.p50, direct_p50[rsa]))
    return 0


TARGET = 1.10  # issue 14: (layer p50 - one no-op hand-off p50) / direct p50, RSA-2048


def target_line(layer_p50: float, hand_off_p50: float, direct_p50: float) -> str:
    """The issue's target, against the floor measured in this run: PASS or FAIL.

    The hand-off is what the one-thread-per-module rule charges whatever the code does, so it
    is taken off before comparing with python-pkcs11 called on that thread directly."""
    ratio = (layer_p50 - hand_off_p50) / direct_p50
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    return (
        f"target: RSA-2048 (layer p50 {layer_p50 * 1e3:.3f} ms - no-op hand-off p50 "
        f"{hand_off_p50 * 1e3:.3f} ms) / direct p50 {direct_p50 * 1e3:.3f} ms = {ratio:.3f} "
        f"(<= {TARGET:.2f}): {verdict}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="token_sign.py",
        description="Token layer overhead vs direct python-pkcs11 on SoftHSM2 (RSA-2048, P-256).",
    )
    parser.add_argument(
        "--iterations", type=int, default=2000, help="RSA signatures per path (default 2000)"
    )
    parser.add_argument(
        "--ec-iterations",
        type=int,
        default=None,
        help="ECDSA signatures per path (default: 2.5 x --iterations)",
    )
    parser.add_argument(
        "--block", type=int, default=100, help="signatures per alternating block (default 100)"
    )
    parser.add_argument(
        "--kyso-home",
        type=Path,
        default=None,
        help="use (or create) the demo under this state root instead of a temporary one",
    )
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.block < 1:
        parser.error("--iterations and --block must be at least 1")
    ec_iterations = args.ec_iterations or int(args.iterations * 2.5)

    # The demo is chosen through the environment (KYSO_HOME, SOFTHSM2_CONF): restore both so a
    # caller in the same process (the smoke test) keeps its own demo afterwards.
    saved = {k: os.environ.get(k) for k in ("KYSO_HOME", "SOFTHSM2_CONF")}
    tmp = None
    try:
        if args.kyso_home is None:
            tmp = tempfile.TemporaryDirectory(prefix="kyso-bench-")
            home = Path(tmp.name)
        else:
            home = args.kyso_home.expanduser().resolve()
        os.environ["KYSO_HOME"] = str(home)
        return asyncio.run(_run(home, args.iterations, ec_iterations, args.block))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
