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
import functools
import hashlib
import logging
import ssl
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
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
MAX_ISSUER_URLS = 4  # caIssuers addresses tried per certificate (a CA names one or two)
FAILED_FETCH_SECONDS = 60.0  # a caIssuers address that failed is not tried again before this
MEMORY_ENTRIES = 256  # chains kept worked out in memory (a machine has a few certificates)


@dataclass(frozen=True)
class IssuingCa:
    """A CA certificate above a signer's, with what the check reads of it at every signature."""

    der: bytes
    checkable: bool  # names where its status is published (OCSP or CRL)
    not_before: dt.datetime
    not_after: dt.datetime
    # Came from a caIssuers address: genuine, but the network chose which issue of that CA
    # (an expired earlier one with the same key must not refuse a good certificate).
    fetched: bool = False

    @classmethod
    def of(
        cls, ca: x509.Certificate, *, reachable: bool = True, fetched: bool = False
    ) -> IssuingCa:
        """``ca`` as the check reads it; ``reachable``: its own issuer is at hand or at an
        address (else its status answers could not be verified, so it is not asked)."""
        # A CA naming no status address is how many hierarchies are built: it is not reported
        # as unknown at every signature.
        ocsp_urls, crl_urls, _ = revocation_urls(ca)
        return cls(
            ca.public_bytes(serialization.Encoding.DER),
            reachable and bool(ocsp_urls or crl_urls),
            ca.not_valid_before_utc,
            ca.not_valid_after_utc,
            fetched,
        )


class Chain(NamedTuple):
    """What :meth:`IssuerStore.cas_above` found above a certificate."""

    cas: tuple[IssuingCa, ...]  # confirmed CAs: their dates and statuses are checked
    missing: x509.Certificate | None  # whose issuer a caIssuers address names, not fetched yet
    unconfirmed: str | None = None  # why some CA above could not be confirmed, if one could not


@dataclass
class _Path:
    """The certificates found above a signer's, nearest first (the root apart)."""

    chain: list[x509.Certificate] = field(default_factory=list)
    on_token: list[bool] = field(default_factory=list)
    reachable: list[bool] = field(default_factory=list)  # its own issuer at hand or at an address
    root: x509.Certificate | None = None
    root_on_token: bool = False
    ended_at_address: bool = False  # stopped where a caIssuers address names the next issuer


def _confirmation(path: _Path) -> tuple[list[bool], str | None]:
    """Which CAs of ``path`` are confirmed, and why the chain is not, if it is not.

    Confirmed from the top down: below a certificate whose content is trusted (on a token),
    each link was verified by find_issuer (the child's signature under the parent's key). A
    fetched root is confirmed by its own signature, once its key is known to be the one that
    signed a confirmed certificate below it (a copy with another name's key cannot sign so)."""
    confirmed = [False] * len(path.chain)
    above = path.root_on_token
    for index in reversed(range(len(path.chain))):
        above = above or path.on_token[index]
        confirmed[index] = above
    if not all(confirmed):
        return confirmed, (
            "an issuing CA's certificate came from the network and does not lead to a CA "
            "certificate on the token"
        )
    root = path.root
    if root is not None and not path.root_on_token and find_issuer(root, [root]) is None:
        return confirmed, "the root CA's certificate from the network is not self-signed"
    return confirmed, None


class IssuerStore:
    """Issuing CA certificates fetched from caIssuers addresses, and the chains worked out from
    them and from the tokens' certificates.

    A fetched certificate proves only its public key (the certificate below verifies under it):
    its name, dates and addresses are whoever served it (plain http, red team 42). Its content
    is *confirmed* when a certificate whose content is trusted signed it: one on a token (or a
    remote provider's chain) above it, or, for a self-issued root, the root itself once its key
    has been shown genuine by signing a confirmed certificate below. Only confirmed CAs are
    checked (dates, status, addresses contacted) and kept on disk; anything else makes the
    check's answer unknown, never a silent "good" and never a refusal an attacker wrote."""

    def __init__(self, folder: Path, timeout: float) -> None:
        self.folder = folder
        self.timeout = timeout
        self._issuers: dict[str, x509.Certificate | None] = {}
        self._fresh: dict[str, float] = {}  # fetched, not (yet) confirmed: forgotten after a while
        self._failed: dict[str, float] = {}
        self._generation = 0  # bumped when an issuer is learnt or forgotten: chains kept are stale
        self._chains: dict[tuple[bytes, tuple[bytes, ...], int], Chain] = {}

    async def walk(
        self, cert_der: bytes, issuers: tuple[bytes, ...], deadline: float | None = None
    ) -> Chain:
        """The CAs above ``cert_der`` (:meth:`cas_above`), each missing issuer that a
        confirmed certificate's caIssuers address names fetched first, one level at a time up
        to the root (a chain of three CAs is walked whole at the first signature, and by every
        later process), all before ``deadline`` (the loop's clock)."""
        chain = self.cas_above(cert_der, issuers)
        for _ in range(MAX_CHAIN_CAS + 1):
            if chain.missing is None or not await self.fetch_issuer(chain.missing, deadline):
                break
            chain = self.cas_above(cert_der, issuers)
        if chain.missing is not None and chain.unconfirmed is None:
            # Named and not had (offline, or an attacker answering 404 after a forged copy got
            # the certificate's own "good" cached): the CA above is not known, so not checked.
            return chain._replace(
                unconfirmed="an issuing CA's certificate could not be fetched from its "
                "caIssuers address"
            )
        return chain

    def cas_above(self, cert_der: bytes, issuers: Iterable[bytes]) -> Chain:
        """The CA certificates between ``cert_der`` and its root (the root itself left out: a
        trust anchor has no one to revoke it), as far as ``issuers`` (the tokens' CA
        certificates) and the issuers already fetched reach, nearest first, at most
        :data:`MAX_CHAIN_CAS`; with the confirmed certificate whose issuer is missing but
        named at a caIssuers address (to fetch), if any, and why the chain is not confirmed,
        if it is not. Worked out once per certificate, set of issuers and issuer learnt (this
        runs at every signature)."""
        issuer_list = tuple(issuers)
        key = (cert_der, issuer_list, self._generation)
        kept = self._chains.get(key)
        if kept is not None:
            return kept
        candidates = [c for der in issuer_list for c in load_certificates(der)]
        try:
            leaf = x509.load_der_x509_certificate(cert_der)
        except ValueError:
            return Chain((), None)
        path = self._climb(leaf, candidates)
        confirmed, unconfirmed = _confirmation(path)
        if (unconfirmed is not None or path.ended_at_address) and system_roots():
            # The roots the operating system trusts (where a CA's installer puts its root on
            # Windows) may confirm a chain the tokens do not, or be the root not yet fetched
            # (offline, or its host down: review 42).
            path = self._climb(leaf, [*candidates, *system_roots()])
            confirmed, unconfirmed = _confirmation(path)
        ends = path.chain[-1] if path.chain else leaf
        # An address named by an unconfirmed certificate is whoever served it: followed only
        # while a CA certificate on the token, not yet placed below, could still confirm the
        # chain above (review 41).
        reach_further = unconfirmed is None or any(c not in path.chain for c in candidates)
        missing = ends if path.ended_at_address and reach_further else None
        if len(self._chains) >= MEMORY_ENTRIES:
            self._chains.clear()
        # A CA whose issuer nobody can find (not on a token, no caIssuers address): its CRL or
        # OCSP answer could never be verified, and a warning at every signature teaches users
        # to ignore warnings; its status is not asked about (its dates still are).
        links = [
            IssuingCa.of(ca, reachable=ok, fetched=not own)
            for ca, ok, sure, own in zip(
                path.chain, path.reachable, confirmed, path.on_token, strict=True
            )
            if sure
        ]
        found = Chain(tuple(links), missing, unconfirmed)
        if unconfirmed is None:
            self._keep_on_disk([leaf, *path.chain], {*path.chain, path.root})
            self._chains[key] = found  # an unconfirmed chain is worked out again (see _fresh)
        return found

    def _climb(self, leaf: x509.Certificate, candidates: list[x509.Certificate]) -> _Path:
        """From ``leaf`` up through the issuers at hand (tokens first, then fetched ones)."""
        path = _Path()
        current = leaf
        while True:
            from_token = find_issuer(current, candidates)
            issuer = from_token or self.known_issuer(current)
            names_issuer = bool(revocation_urls(current)[2])
            if path.chain:
                path.reachable[-1] = issuer is not None or names_issuer
            if issuer is None:
                path.ended_at_address = names_issuer
                return path
            if issuer.subject == issuer.issuer:  # a root (self-issued)
                path.root, path.root_on_token = issuer, from_token is not None
                return path
            if issuer in path.chain or len(path.chain) == MAX_CHAIN_CAS:
                return path  # a loop, or as far as Kyso looks
            path.chain.append(issuer)
            path.on_token.append(from_token is not None)
            path.reachable.append(False)
            current = issuer

    async def issuer_of(
        self, cert: x509.Certificate, candidates: list[x509.Certificate], session: Any
    ) -> x509.Certificate | None:
        """``cert``'s issuer: among ``candidates``, fetched before, among the system's roots,
        or fetched now with ``session`` from its caIssuers addresses (unless that failed a
        moment ago)."""
        issuer = find_issuer(cert, candidates) or self.known_issuer(cert)
        if issuer is None:  # a root the system trusts needs no fetch
            issuer = find_issuer(cert, system_roots())
        if issuer is None and not self._failed_lately(self._path(cert).name):
            issuer = await download_issuer(session, cert, revocation_urls(cert)[2])
            if issuer is None:
                self._note_failure(self._path(cert).name)
            else:
                self.learn_issuer(cert, issuer)
        return issuer

    def _path(self, cert: x509.Certificate) -> Path:
        child = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        return self.folder / f"{child}.der"

    def known_issuer(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The issuer fetched for ``cert`` earlier, by this process (unconfirmed ones for
        :data:`FAILED_FETCH_SECONDS`) or, confirmed, by one before (checked again: a file that
        is not the issuer is ignored)."""
        path = self._path(cert)
        learnt = self._fresh.get(path.name)
        if learnt is not None and time.monotonic() - learnt >= FAILED_FETCH_SECONDS:
            # Fetched, never confirmed: fetched again (the network may be honest now).
            del self._fresh[path.name]
            self._issuers.pop(path.name, None)
            self._generation += 1
        if path.name not in self._issuers:
            try:
                kept = load_certificates(path.read_bytes())
            except OSError:
                kept = []
            self._issuers[path.name] = find_issuer(cert, kept)
        return self._issuers[path.name]

    def learn_issuer(self, cert: x509.Certificate, issuer: x509.Certificate) -> None:
        """Take ``issuer`` as ``cert``'s, in memory: kept on disk once a chain confirms it."""
        name = self._path(cert).name
        if len(self._issuers) >= MEMORY_ENTRIES:  # a long-running agent: copies served to it
            self._issuers.clear()
            self._fresh.clear()
        self._issuers[name] = issuer
        self._fresh[name] = time.monotonic()
        self._generation += 1

    def _keep_on_disk(
        self, children: list[x509.Certificate], confirmed: set[x509.Certificate | None]
    ) -> None:
        """Write the fetched issuers of ``children`` (under each child's name) that are among
        the ``confirmed`` certificates of the chain."""
        for child in children:
            name = self._path(child).name
            issuer = self._issuers.get(name)
            if name not in self._fresh or issuer is None or issuer not in confirmed:
                continue  # on a token, on disk already, or past where the walk looked
            del self._fresh[name]
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                der = issuer.public_bytes(serialization.Encoding.DER)
                atomic_write(self.folder / name, der, overwrite=True, mode=0o600)
            except OSError as exc:  # a full disk must not stop a signature
                log.warning("could not keep the issuing CA's certificate: %s", exc)

    def _failed_lately(self, name: str) -> bool:
        failed = self._failed.get(name)
        return failed is not None and time.monotonic() - failed < FAILED_FETCH_SECONDS

    async def fetch_issuer(self, cert: x509.Certificate, deadline: float | None = None) -> bool:
        """Fetch ``cert``'s issuer from its caIssuers addresses (before ``deadline``, else
        within the time budget; a failure is not tried again for
        :data:`FAILED_FETCH_SECONDS`); whether it was."""
        import aiohttp

        key = self._path(cert).name
        if self._failed_lately(key):
            return False
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self.timeout
        issuer = None
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with (
                asyncio.timeout_at(deadline),
                aiohttp.ClientSession(timeout=timeout) as session,
            ):
                issuer = await download_issuer(session, cert, revocation_urls(cert)[2])
        except Exception:  # offline, a bad answer, no time left: the status says unknown later
            log.debug("could not fetch the issuing CA's certificate", exc_info=True)
        if issuer is None:
            self._note_failure(key)
            return False
        self.learn_issuer(cert, issuer)
        return True

    def _note_failure(self, name: str) -> None:
        if len(self._failed) >= MEMORY_ENTRIES:
            self._failed.clear()
        self._failed[name] = time.monotonic()


MAX_SYSTEM_BUNDLE_BYTES = 8 * 1024 * 1024


@functools.lru_cache(maxsize=1)
def system_roots() -> tuple[x509.Certificate, ...]:
    """The root CA certificates the operating system trusts, read once per process and only
    for a chain the tokens do not confirm: Windows' ROOT store; elsewhere OpenSSL's default
    bundle ($SSL_CERT_FILE first). Only roots (self-issued): an intermediate there proves
    nothing more than a fetched one."""
    ders: list[bytes] = []
    if sys.platform == "win32":
        try:
            ders = [
                cert
                for cert, encoding, _trust in ssl.enum_certificates("ROOT")  # type: ignore[attr-defined]
                if encoding == "x509_asn"
            ]
        except OSError:
            ders = []
    else:
        paths = ssl.get_default_verify_paths()
        for path in (paths.cafile, paths.openssl_cafile):
            if not path:
                continue
            try:
                with open(path, "rb") as bundle:
                    ders = [bundle.read(MAX_SYSTEM_BUNDLE_BYTES)]
                break
            except OSError:
                continue
    with warnings.catch_warnings():  # a bundle's odd old root (negative serial) is no concern
        warnings.simplefilter("ignore")
        certs = [c for der in ders for c in load_certificates(der)]
    return tuple(c for c in certs if c.subject == c.issuer)


async def download_issuer(
    session: Any, cert: x509.Certificate, urls: Iterable[str]
) -> x509.Certificate | None:
    """The issuing CA's certificate from the certificate's caIssuers addresses (the first
    :data:`MAX_ISSUER_URLS` of them)."""
    for url in list(urls)[:MAX_ISSUER_URLS]:
        body = await get(session, url, MAX_CERT_BYTES)
        if isinstance(body, str):
            continue
        issuer = find_issuer(cert, load_certificates(body))
        if issuer is not None:
            return issuer
    return None
