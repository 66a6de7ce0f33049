"""A :class:`Signer` over a remote credential (CSC API): every format signs with it unchanged.

One signature is: hash locally, ``credentials/authorize`` for exactly that hash (PIN/OTP from
the agent's own prompter), ``signatures/signHash``, then a local check of the signature against
the credential's certificate, so a wrong answer never reaches a document.

Batches: :meth:`RemoteSigner.sign_digests` signs many digests with one authorisation per
``multisign`` hashes (the credential's limit) and returns what it got even when a later chunk
fails. Formats that each call :meth:`~RemoteSigner.sign_digest` can be batched the same way by
running them concurrently inside :meth:`RemoteSigner.collect`: the digests are gathered until
every running item is waiting, then authorised and signed together.

The PIN is asked once per signer (one operation) and kept in this object only; an OTP is
single-use, so it is asked for each authorisation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from agent.errors import KysoError, invalid_input
from agent.remote.csc import CredentialDetails, CscClient, SignAlgo, sign_algo_for
from agent.remote.directory import RemoteCredential, RemoteService
from agent.remote.prompt import CredentialPrompt, CredentialPrompter
from agent.signing.signer import Signer
from agent.tokens.algorithms import (
    SignatureAlgorithm,
    check_digest,
    digest,
    ecdsa_raw_to_der,
)
from agent.tokens.certinfo import CertificateInfo
from agent.tokens.chain import issuer_chain
from agent.tokens.keymatch import signature_verifies

log = logging.getLogger(__name__)
T = TypeVar("T")


def _verify(
    info: CertificateInfo, signature: bytes, digest_value: bytes, alg: SignatureAlgorithm
) -> bytes:
    """Check a remote signature against the certificate; returns the signature in the form
    formats expect (ECDSA as DER). Raises InvalidSignature."""
    key = info.certificate.public_key()
    candidates = [signature]
    if isinstance(key, rsa.RSAPublicKey):
        size = (key.key_size + 7) // 8
        if len(signature) < size:  # a service writing the number without its leading zeros
            candidates = [signature.rjust(size, b"\x00")]
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        if len(signature) == 2 * size:  # some services send r‖s, which may begin like DER
            der = ecdsa_raw_to_der(signature)
            candidates = [signature, der] if signature[0] == 0x30 else [der]
    for candidate in candidates:
        if signature_verifies(key, alg, digest_value, candidate, is_digest=True):
            return candidate
    raise InvalidSignature


class RemoteSigner(Signer):
    """Signs with a remote credential through its provider's CSC API."""

    def __init__(
        self,
        credential: RemoteCredential,
        client: CscClient,
        prompter: CredentialPrompter,
        *,
        description: str = "",
    ) -> None:
        self.credential = credential
        self.client = client
        self.prompter = prompter
        self.description = description
        self.authorizations = 0  # how many credentials/authorize calls this signer made
        self._pin: str | None = None
        self._batch: _Collector | None = None
        self._chain: tuple[bytes, ...] | None = None

    @classmethod
    def open(
        cls,
        credential: RemoteCredential,
        service: RemoteService,
        prompter: CredentialPrompter,
        *,
        description: str = "",
    ) -> RemoteSigner:
        """A signer for ``credential`` through its provider's service."""
        return cls(credential, service.client, prompter, description=description)

    @property
    def details(self) -> CredentialDetails:
        """The credential as the provider described it."""
        return self.credential.details

    @property
    def certificate(self) -> CertificateInfo:
        """The remote credential's certificate."""
        return self.credential.info

    @property
    def chain(self) -> tuple[bytes, ...]:
        """The issuing CAs among the chain the provider listed with the credential."""
        if self._chain is None:
            self._chain = issuer_chain(self.credential.info.der, self.details.chain)
        return self._chain

    def forget_secrets(self) -> None:
        """Drop the PIN kept for this operation."""
        self._pin = None

    async def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Hash locally, sign the hash remotely."""
        return await self.sign_digest(digest(algorithm, data), algorithm)

    async def sign_digest(self, digest_value: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign one digest (joined with others when inside :meth:`collect`)."""
        check_digest(algorithm, digest_value)
        if self._batch is not None:
            return await self._batch.submit(digest_value, algorithm)
        result = (await self.sign_digests([digest_value], algorithm))[0]
        if isinstance(result, KysoError):
            raise result
        return result

    def _precheck(self, algorithm: SignatureAlgorithm) -> None:
        problem = self.details.problem
        if problem:
            raise KysoError(
                "REMOTE_CREDENTIAL_INVALID",
                {
                    "provider": self.credential.provider.label,
                    "credential": self.credential.credential_id,
                    "status": problem,
                },
            )
        if algorithm.key_kind.value != self.certificate.key_type:
            key_type = self.certificate.key_type
            raise invalid_input(
                f"{algorithm.value} does not fit a {key_type} key",
                f"thuật toán {algorithm.value} không phù hợp với khóa {key_type}",
            )

    async def _secrets(self, count: int) -> tuple[str | None, str | None]:
        d = self.details
        if d.auth_mode != "explicit" or not (d.need_pin or d.need_otp):
            return None, None  # implicit: the provider asks the user itself (app, push)
        need_pin = d.need_pin and self._pin is None
        if need_pin or d.need_otp:
            answer = await self.prompter.get_credential_secrets(
                CredentialPrompt(
                    provider=self.credential.provider.label,
                    provider_name=self.credential.provider.name,
                    credential_id=self.credential.credential_id,
                    certificate=self.certificate,
                    need_pin=need_pin,
                    need_otp=d.need_otp,
                    signatures=count,
                    pin_label=d.pin_label,
                    otp_label=d.otp_label,
                    otp_online=d.otp_online,
                )
            )
            if answer is None or (need_pin and not answer.pin) or (d.need_otp and not answer.otp):
                raise KysoError("USER_CANCELLED")
            if need_pin:
                self._pin = answer.pin
            return self._pin if d.need_pin else None, answer.otp
        return self._pin, None

    async def sign_digests(
        self, digests: Sequence[bytes], algorithm: SignatureAlgorithm
    ) -> list[bytes | KysoError]:
        """Sign many digests: one authorisation per ``multisign`` of them. The result has one
        entry per digest, in order: the signature, or the error that stopped it. After the
        first failure nothing more is sent (a refused PIN is never retried, a dead service
        is not hammered), so the remaining entries carry that same error."""
        for d in digests:
            check_digest(algorithm, d)
        self._precheck(algorithm)
        algo = sign_algo_for(algorithm, self.details.algorithms)
        step = self.details.multisign
        results: list[bytes | KysoError] = []
        for start in range(0, len(digests), step):
            chunk = list(digests[start : start + step])
            try:
                results.extend(await self._sign_chunk(chunk, algorithm, algo))
            except KysoError as exc:
                if exc.code == "REMOTE_AUTH_REFUSED":
                    self._pin = None  # a refused PIN is not offered again
                log.warning(
                    "remote %s: batch stopped after %d of %d signatures: %s",
                    self.credential.provider.name,
                    len(results),
                    len(digests),
                    exc.code,
                )
                results.extend([exc] * (len(digests) - len(results)))
                break
        return results

    async def _sign_chunk(
        self, chunk: list[bytes], alg: SignatureAlgorithm, algo: SignAlgo
    ) -> list[bytes]:
        cid = self.credential.credential_id
        description = self.description or f"Kyso: {len(chunk)} chữ ký / signatures"
        pin = otp = None
        if self.details.auth_mode != "oauth2code":
            pin, otp = await self._secrets(len(chunk))
        with self._at_provider():  # authorised, then signed: one step a stop does not split
            if self.details.auth_mode == "oauth2code":
                # The provider's own page (in the browser) asks the user and binds the hashes.
                authorization = await self.client.authorize_oauth(
                    cid, chunk, algo.hash_oid, description=description
                )
            else:
                # Nothing asked here (CSC "implicit"): the service asks the person itself, a
                # push to the phone, and answers once they approved (red team 34).
                provider = self.credential.provider
                waits = max(provider.timeout_seconds, provider.approval_timeout_seconds)
                authorization = await self.client.authorize(
                    cid,
                    chunk,
                    algo.hash_oid,
                    pin=pin,
                    otp=otp,
                    description=description,
                    timeout=waits if pin is None and otp is None else None,
                )
            self.authorizations += 1
            signatures = await self.client.sign_hash(cid, authorization, chunk, algo)
        out = []
        for sig, d in zip(signatures, chunk, strict=True):
            try:
                out.append(_verify(self.certificate, sig, d, alg))
            except (InvalidSignature, ValueError):
                raise KysoError(
                    "REMOTE_PROTOCOL_ERROR",
                    {
                        "provider": self.credential.provider.label,
                        "detail": "a signature does not match the credential's certificate",
                    },
                ) from None
        return out

    @contextlib.contextmanager
    def _at_provider(self) -> Iterator[None]:
        """Around authorising and signing at the provider: inside a batch that was stopped,
        nothing more is sent; a step under way is not cancelled by the stop (the signatures
        it brings are the items' results)."""
        batch = self._batch
        if batch is None:
            yield
            return
        if batch.stopped is not None:
            raise batch.stopped
        batch.at_provider += 1
        try:
            yield
        finally:
            batch.at_provider -= 1

    @contextlib.asynccontextmanager
    async def collect(self, count: int, *, patient: bool = False) -> AsyncIterator[_Collector]:
        """Batch the ``sign_digest`` calls of ``count`` concurrent items: run each item with
        ``collector.run(coro)`` (e.g. under ``asyncio.gather``). ``patient``: authorise only
        once every running item waits for its signature (no flush after a quiet spell), so an
        item failing on this side can still :meth:`_Collector.stop` the others in time."""
        if self._batch is not None:
            raise RuntimeError("one batch at a time per signer")
        collector = _Collector(self, count, patient=patient)
        self._batch = collector
        try:
            yield collector
        finally:
            self._batch = None
            # The batch is over, also when it was cancelled (the page went away, the site was
            # revoked): a flush still asking the PIN or talking to the provider stops with it.
            await collector.close()


@dataclass
class _Pending:
    digest: bytes
    algorithm: SignatureAlgorithm
    future: asyncio.Future[bytes] = field(repr=False)


class _Collector:
    """Gathers digests from concurrently running items and signs them together once every
    item still running is waiting for its signature (an item that fails before signing, or
    signs twice, does not leave the others waiting), or a full ``multisign`` chunk is ready.

    Unless ``patient``, a quiet spell with no new digest also flushes what is pending (items
    slow on this side, e.g. fetching revocation data, do not hold up the others): it costs an
    extra authorisation. A patient batch (``stop_on_error``) waits for every item, so that one
    failing here stops the others before the provider authorises them.

    :meth:`stop` ends the batch early (an item failed with ``stop_on_error``, or its audit
    record could not be written): the items still pending, and any that submit later, get
    that error, and nothing more is authorised at the provider."""

    QUIET_SECONDS = 0.05

    def __init__(self, signer: RemoteSigner, count: int, *, patient: bool = False) -> None:
        self.signer = signer
        self.running = count
        self.patient = patient
        self.pending: list[_Pending] = []
        self._flushing: asyncio.Task[None] | None = None
        self._quiet: asyncio.TimerHandle | None = None
        self._closed = False
        # The error that stopped the batch: later flushes neither ask the PIN again nor send
        # anything (a refused PIN resent would count towards the provider's lock-out).
        self.stopped: BaseException | None = None
        self.at_provider = 0  # calls to the provider under way (see RemoteSigner._at_provider)

    def stop(self, error: BaseException) -> None:
        """Sign nothing more: pending items fail with ``error`` (the first stop's, if several),
        and a flush still asking the PIN or OTP is cancelled; one already talking to the
        provider finishes (what it signed is kept), then nothing more is sent."""
        if self.stopped is None:
            self.stopped = error
        if self._quiet is not None:
            self._quiet.cancel()
        for p in self.pending:
            if not p.future.done():
                p.future.set_exception(self.stopped)
        self.pending = []
        flushing = self._flushing
        if flushing is not None and not flushing.done() and not self.at_provider:
            flushing.cancel()  # its waiters hear self.stopped (see _flush)

    async def close(self) -> None:
        """End the batch: no new flush; one in flight is cancelled (its PIN prompt closes,
        nothing more is sent to the provider) and waiters not yet answered are cancelled."""
        self._closed = True
        if self._quiet is not None:
            self._quiet.cancel()
        flushing = self._flushing
        if flushing is not None and not flushing.done():
            flushing.cancel()
            await asyncio.gather(flushing, return_exceptions=True)
        for p in self.pending:
            p.future.cancel()
        self.pending = []

    async def run(self, item: Awaitable[T]) -> T:
        """Run one item of the batch."""
        try:
            return await item
        finally:
            self.running -= 1
            self._maybe_flush()

    async def submit(self, digest_value: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Wait for this digest's signature, signed with the other items' digests."""
        if self.stopped is not None:
            raise self.stopped
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(digest_value, algorithm, future))
        if self._quiet is not None:
            self._quiet.cancel()
        if not self.patient:
            self._quiet = asyncio.get_running_loop().call_later(
                self.QUIET_SECONDS, self._maybe_flush, True
            )
        self._maybe_flush()
        return await future

    def _maybe_flush(self, quiet: bool = False) -> None:
        if self._closed:
            return
        full = len(self.pending) >= self.signer.details.multisign
        quiet = quiet and not self.patient
        if not self.pending or not (quiet or full or len(self.pending) >= self.running):
            return
        if self._flushing is not None and not self._flushing.done():
            return  # flushed again when the one in flight ends
        batch, self.pending = self.pending, []
        self._flushing = asyncio.ensure_future(self._flush(batch))

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            await self._sign_batch(batch)
        except asyncio.CancelledError:
            if self.stopped is None:
                raise  # close(): nobody waits any more
            for p in batch:  # stop() while the PIN was asked: the waiters hear why
                if not p.future.done():
                    p.future.set_exception(self.stopped)
            return
        self._flushing = None
        self._maybe_flush(quiet=True)  # what was submitted while this batch was in flight

    async def _sign_batch(self, batch: list[_Pending]) -> None:
        by_alg: dict[SignatureAlgorithm, list[_Pending]] = {}
        for p in batch:
            by_alg.setdefault(p.algorithm, []).append(p)
        step = self.signer.details.multisign
        # One authorisation's worth at a time, each answered as soon as it is signed: a stop
        # while the next one's PIN or OTP is asked keeps the signatures already made.
        chunks = [g[i : i + step] for g in by_alg.values() for i in range(0, len(g), step)]
        for chunk in chunks:
            if self.stopped is not None:
                results: list[Any] = [self.stopped] * len(chunk)
            else:
                try:
                    results = await self.signer.sign_digests(
                        [p.digest for p in chunk], chunk[0].algorithm
                    )
                except Exception as exc:  # every waiter must hear about it, not only the first
                    results = [exc] * len(chunk)
            if self.stopped is None:
                self.stopped = next((r for r in results if isinstance(r, Exception)), None)
            for p, r in zip(chunk, results, strict=True):
                if p.future.done():
                    continue
                if isinstance(r, Exception):
                    p.future.set_exception(r)
                else:
                    p.future.set_result(r)
