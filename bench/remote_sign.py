"""Benchmark: a batch of 100 hashes signed remotely through Kyso vs pyHanko's CSC client.

Both talk to the same local CSC service (certomancer-csc-dummy with a key issued by a fresh
test PKI, in a child process on 127.0.0.1, so its CPU is not charged to the client), over the
same CSC v1 endpoints (the dummy's own handlers: pyHanko's client formats v1 requests), with
the same bearer token scheme and the same batch size (the credential's ``multisign``, 10):

- ``kyso``: ``RemoteSigner.sign_digests`` of 100 SHA-256 digests: one
  ``credentials/authorize`` (hashes pinned) and one ``signatures/signHash`` per 10, each
  signature then checked locally against the certificate;
- ``pyhanko``: ``CSCSigner(batch_size=10)`` with an authorisation manager that calls
  ``credentials/authorize`` for each batch's hashes, 100 ``async_sign_raw`` calls at once.

Rounds alternate between the two; the median of each is printed with the ratio and the number
of authorisations per batch. Target: Kyso at most 1.2× pyHanko. Nothing here is a test.

Usage::

    .venv/bin/python bench/remote_sign.py            # 5 rounds of 100
    .venv/bin/python bench/remote_sign.py --rounds 3 --count 50
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 1.2
SECRET = "bench-client-secret"
CREDENTIAL = "kyso/org"


async def _serve(directory: Path) -> None:
    from agent.demo.pki import TestCA
    from agent.demo.remote import start_service

    ca = TestCA.load(directory / "pki")
    running = await start_service(directory / "remote", ca, client_secret=SECRET)
    print(running.url, flush=True)
    await asyncio.Event().wait()


async def _kyso(url: str, secret_file: Path, digests: list[bytes]) -> tuple[float, float, int]:
    from agent.remote.directory import RemoteDirectory, RemoteService
    from agent.remote.prompt import StaticCredentialPrompter
    from agent.remote.providers import parse_provider
    from agent.signing.remote import RemoteSigner
    from agent.tokens.algorithms import SignatureAlgorithm

    provider = parse_provider(
        {
            "name": "bench",
            "base_url": url,
            "api_version": "v1",
            "client_id": "kyso-agent",
            "auth_flow": "client_credentials",
            "client_secret_file": str(secret_file),
        }
    )
    service = RemoteService(provider)
    try:
        found = await RemoteDirectory([service]).list_credentials()
        credential = next(c for c in found if c.credential_id == CREDENTIAL)
        signer = RemoteSigner.open(credential, service, StaticCredentialPrompter())
        await signer.sign_digests(digests[:1], SignatureAlgorithm.RSA_PKCS1_SHA256)  # warm
        signer.authorizations = 0
        start, cpu = time.perf_counter(), time.process_time()
        results = await signer.sign_digests(digests, SignatureAlgorithm.RSA_PKCS1_SHA256)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert all(isinstance(r, bytes) for r in results), results
        return elapsed, cpu, signer.authorizations
    finally:
        await service.close()


async def _pyhanko(url: str, token: str, digests: list[bytes]) -> tuple[float, float, int]:
    import aiohttp
    from pyhanko.sign.signers.csc_signer import (
        CSCAuthorizationInfo,
        CSCAuthorizationManager,
        CSCServiceSessionInfo,
        CSCSigner,
        fetch_certs_in_csc_credential,
    )

    calls = 0

    class AuthorizeEachBatch(CSCAuthorizationManager):
        def __init__(self, session: aiohttp.ClientSession, *args: Any) -> None:
            super().__init__(*args)
            self.session = session

        async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
            nonlocal calls
            calls += 1
            req = self.format_csc_auth_request(hash_b64s=hash_b64s)
            async with self.session.post(
                self.csc_session_info.endpoint_url("credentials/authorize"),
                json=req,
                headers=self.auth_headers,
                raise_for_status=True,
            ) as response:
                return self.parse_csc_auth_response(await response.json())

    info = CSCServiceSessionInfo(url, CREDENTIAL, oauth_token=token, api_ver="v1")
    async with aiohttp.ClientSession() as session:
        credential = await fetch_certs_in_csc_credential(session, info)
        manager = AuthorizeEachBatch(session, info, credential)
        warm = CSCSigner(session, manager, batch_size=1)
        await warm.async_sign_raw(b"warm", "sha256")
        signer = CSCSigner(session, manager, batch_size=10)
        calls = 0
        # pyHanko's signer hashes what it is given, so it signs sha256(digest): other hashes,
        # the same number and size of requests.
        start, cpu = time.perf_counter(), time.process_time()
        sigs = await asyncio.gather(*(signer.async_sign_raw(d, "sha256") for d in digests))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert len(sigs) == len(digests)
        return elapsed, cpu, calls


async def _token(url: str) -> str:
    import aiohttp

    form = {"grant_type": "client_credentials", "client_id": "kyso-agent", "client_secret": SECRET}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/oauth2/token", data=form) as r,
    ):
        return (await r.json())["access_token"]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print PASS/FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0

    from agent.demo.pki import TestCA

    with tempfile.TemporaryDirectory(prefix="kyso-bench-remote-") as tmp:
        directory = Path(tmp)
        os.environ["KYSO_HOME"] = str(directory / "home")
        TestCA.create().save(directory / "pki")
        secret_file = directory / "secret"
        secret_file.write_text(SECRET)
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(directory)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            url = child.stdout.readline().strip()
            if not url.startswith("http://127.0.0.1:"):
                print("FAIL: the CSC service did not start", file=sys.stderr)
                return 1
            digests = [hashlib.sha256(f"hồ sơ {i}".encode()).digest() for i in range(args.count)]
            token = asyncio.run(_token(url))
            kyso: list[float] = []
            ref: list[float] = []
            kyso_cpu: list[float] = []
            ref_cpu: list[float] = []
            kyso_auths = ref_auths = 0
            for _ in range(args.rounds):
                t, c, kyso_auths = asyncio.run(_kyso(url, secret_file, digests))
                kyso.append(t)
                kyso_cpu.append(c)
                t, c, ref_auths = asyncio.run(_pyhanko(url, token, digests))
                ref.append(t)
                ref_cpu.append(c)
        finally:
            child.terminate()
            child.wait(timeout=10)
    k, p = statistics.median(kyso), statistics.median(ref)
    ratio = k / p
    per_k = args.count / max(kyso_auths, 1)
    per_p = args.count / max(ref_auths, 1)
    print(f"signatures per batch: {args.count}, rounds: {args.rounds}")
    print(
        f"kyso    (RemoteSigner.sign_digests): {k * 1000:8.1f} ms median, "
        f"{kyso_auths} authorisations ({per_k:.0f} hashes each)"
    )
    print(
        f"pyhanko (CSCSigner, batch_size=10):  {p * 1000:8.1f} ms median, "
        f"{ref_auths} authorisations ({per_p:.0f} hashes each)"
    )
    print(
        f"per signature: kyso {k / args.count * 1000:.2f} ms, pyhanko {p / args.count * 1000:.2f} ms"
    )
    # The service's own signing dominates the wall time; the client's CPU is what Kyso adds
    # (its local check of each signature included).
    kc, pc = statistics.median(kyso_cpu), statistics.median(ref_cpu)
    print(
        f"client CPU per signature: kyso {kc / args.count * 1000:.2f} ms, "
        f"pyhanko {pc / args.count * 1000:.2f} ms"
    )
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"ratio kyso/pyhanko: {ratio:.2f} (target <= {TARGET}) {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
