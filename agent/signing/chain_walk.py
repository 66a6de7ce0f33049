"""The CAs above a signer's certificate, for the status check before signing.

Verifiers judge the whole chain, so a revoked or expired issuing CA (or a CA above it) must
stop a signature as the certificate's own revocation does (red team 39). The CAs come from the
certificates on the tokens or, when a level is missing, from the caIssuers address of the
certificate below it. Issuers fetched are kept on disk under the status cache, named by the
SHA-256 of the certificate they issued: the next process needs them although the status it
reads is cached (review 40).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.files import atomic_write
from agent.signing.revinfo import find_issuer, load_certificates, revocation_urls
from agent.signing.status_fetch import get

log = logging.getLogger(__name__)

MAX_CERT_BYTES = 64 * 1024
MAX_CHAIN_CAS = 4  # CAs checked above a certificate (Vietnamese chains have one or two)
FAILED_FETCH_SECONDS = 60.0  # a caIssuers address that failed is not tried again before this
MEMORY_ENTRIES = 256  # chains kept worked out in memory (a machine has a few certificates)


@dataclass(frozen=True)
class IssuingCa:
    """A CA certificate above a signer's, with what the check reads of it at every signature."""

    der: bytes
    checkable: bool  # names where its status is published (OCSP or CRL)
    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def of(cls, ca: x509.Certificate) -> IssuingCa:
        # A CA naming no status address is how many hierarchies are built: it is not reported
        # as unknown at every signature.
        ocsp_urls, crl_urls, _ = revocation_urls(ca)
        return cls(
            ca.public_bytes(serialization.Encoding.DER),
            bool(ocsp_urls or crl_urls),
            ca.not_valid_before_utc,
            ca.not_valid_after_utc,
        )


class Chain(NamedTuple):
    """What :meth:`IssuerStore.cas_above` found above a certificate."""

    cas: tuple[IssuingCa, ...]
    missing: x509.Certificate | None  # whose issuer a caIssuers address names, not fetched yet


class IssuerStore:
    """Issuing CA certificates fetched from caIssuers addresses, kept in ``folder``, and the
    chains worked out from them and from the tokens' certificates."""

    def __init__(self, folder: Path, timeout: float) -> None:
        self.folder = folder
        self.timeout = timeout
        self._issuers: dict[str, x509.Certificate | None] = {}
        self._failed: dict[str, float] = {}
        self._generation = 0  # bumped when an issuer is learnt: the chains kept are stale
        self._chains: dict[tuple[bytes, tuple[bytes, ...], int], Chain] = {}

    async def walk(self, cert_der: bytes, issuers: tuple[bytes, ...]) -> tuple[IssuingCa, ...]:
        """The CAs above ``cert_der`` (:meth:`cas_above`), each missing issuer that a
        caIssuers address names fetched first, one level at a time up to the root (a chain of
        three CAs is walked whole at the first signature, and by every later process)."""
        chain = self.cas_above(cert_der, issuers)
        for _ in range(MAX_CHAIN_CAS + 1):
            if chain.missing is None or not await self.fetch_issuer(chain.missing):
                break
            chain = self.cas_above(cert_der, issuers)
        return chain.cas

    def cas_above(self, cert_der: bytes, issuers: Iterable[bytes]) -> Chain:
        """The CA certificates between ``cert_der`` and its root (the root itself left out: a
        trust anchor has no one to revoke it), as far as ``issuers`` and the issuers already
        fetched reach, nearest first, at most :data:`MAX_CHAIN_CAS`; with the certificate
        whose issuer is missing but named at a caIssuers address (to fetch), if any. Worked
        out once per certificate, set of issuers and issuer learnt (this runs at every
        signature)."""
        issuer_list = tuple(issuers)
        key = (cert_der, issuer_list, self._generation)
        kept = self._chains.get(key)
        if kept is not None:
            return kept
        candidates = [c for der in issuer_list for c in load_certificates(der)]
        try:
            current = x509.load_der_x509_certificate(cert_der)
        except ValueError:
            return Chain((), None)
        chain: list[x509.Certificate] = []
        reachable: list[bool] = []  # per CA: its own issuer is at hand, or at an address
        missing = None
        while True:
            issuer = find_issuer(current, candidates) or self.known_issuer(current)
            names_issuer = bool(revocation_urls(current)[2])
            if chain:
                reachable[-1] = issuer is not None or names_issuer
            if issuer is None:
                missing = current if names_issuer else None
                break
            if issuer.subject == issuer.issuer or issuer in chain or len(chain) == MAX_CHAIN_CAS:
                break  # a root (self-issued), a loop, or as far as Kyso looks
            chain.append(issuer)
            reachable.append(False)
            current = issuer
        if len(self._chains) >= MEMORY_ENTRIES:
            self._chains.clear()
        # A CA whose issuer nobody can find (not on a token, no caIssuers address): its CRL or
        # OCSP answer could never be verified, and a warning at every signature teaches users
        # to ignore warnings; its status is not asked about (its dates still are).
        links = [IssuingCa.of(ca) for ca in chain]
        found = Chain(
            tuple(
                link if ok else replace(link, checkable=False)
                for link, ok in zip(links, reachable, strict=True)
            ),
            missing,
        )
        self._chains[key] = found
        return found

    async def issuer_of(
        self, cert: x509.Certificate, candidates: list[x509.Certificate], session: Any
    ) -> x509.Certificate | None:
        """``cert``'s issuer: among ``candidates``, fetched before, or fetched now with
        ``session`` from its caIssuers addresses (and kept: the chain walk needs it)."""
        issuer = find_issuer(cert, candidates) or self.known_issuer(cert)
        if issuer is None:
            issuer = await download_issuer(session, cert, revocation_urls(cert)[2])
            if issuer is not None:
                self.learn_issuer(cert, issuer)
        return issuer

    def _path(self, cert: x509.Certificate) -> Path:
        child = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        return self.folder / f"{child}.der"

    def known_issuer(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The issuer fetched for ``cert`` earlier, by this process or one before (checked
        again: a file that is not the issuer is ignored)."""
        path = self._path(cert)
        if path.name not in self._issuers:
            try:
                kept = load_certificates(path.read_bytes())
            except OSError:
                kept = []
            self._issuers[path.name] = find_issuer(cert, kept)
        return self._issuers[path.name]

    def learn_issuer(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """Keep ``issuer`` as ``cert``'s, in memory and on disk."""
        path = self._path(cert)
        self._issuers[path.name] = issuer
        self._generation += 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            der = issuer.public_bytes(serialization.Encoding.DER)
            atomic_write(path, der, overwrite=True, mode=0o600)
        except OSError as exc:  # a full disk must not stop a signature
            log.warning("could not keep the issuing CA's certificate: %s", exc)

    async def fetch_issuer(self, cert: x509.Certificate) -> bool:
        """Fetch ``cert``'s issuer from its caIssuers addresses (within the time budget; a
        failure is not tried again for :data:`FAILED_FETCH_SECONDS`); whether it was."""
        import aiohttp

        key = self._path(cert).name
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed < FAILED_FETCH_SECONDS:
            return False
        issuer = None
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with (
                asyncio.timeout(self.timeout),
                aiohttp.ClientSession(timeout=timeout) as session,
            ):
                issuer = await download_issuer(session, cert, revocation_urls(cert)[2])
        except Exception:  # offline, a bad answer: the status says unknown later
            log.debug("could not fetch the issuing CA's certificate", exc_info=True)
        if issuer is None:
            self._failed[key] = time.monotonic()
            return False
        self.learn_issuer(cert, issuer)
        return True


async def download_issuer(
    session: Any, cert: x509.Certificate, urls: Iterable[str]
) -> x509.Certificate | None:
    """The issuing CA's certificate from the certificate's caIssuers addresses."""
    for url in urls:
        body = await get(session, url, MAX_CERT_BYTES)
        if isinstance(body, str):
            continue
        issuer = find_issuer(cert, load_certificates(body))
        if issuer is not None:
            return issuer
    return None
