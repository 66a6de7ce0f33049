"""Before signing: may this certificate sign now, and has its CA revoked it?

The agent and the CLI call :func:`check_before_signing` after the certificate is chosen and
before any consent or PIN prompt:

* expired, not yet valid, a CA certificate or key usage that does not allow the purpose:
  refused with CERT_EXPIRED / CERT_NOT_YET_VALID / CERT_KEY_USAGE (pure, :func:`evaluate`);
* revoked according to its CA's OCSP responder (AIA) or, failing that, its CRL (CRL DP):
  refused with CERT_REVOKED;
* status unknown (offline, no answer within 3 s, no URL, an answer we cannot verify): NOT a
  block — the caller shows :data:`UNKNOWN_LINE` in the consent (a user must be able to sign
  with the network down; the portal checks revocation again when it receives the signature).

Answers are verified in :mod:`agent.signing.revinfo` against the issuing CA certificate only,
so a forged answer needs the CA's key, whoever serves the URL. The issuer comes from the
certificates on the tokens (CAs often put theirs there) or from AIA caIssuers.

Definite answers are cached under the state root (atomic writes; a file unchanged since it was
read is not parsed again): a "good" until the answer's nextUpdate but a day at most, a
"revoked" for good (a hold until nextUpdate). Unknown answers are remembered for a minute in
memory only, so a dead responder does not add its timeout to every signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from agent.errors import KysoError
from agent.files import atomic_write
from agent.signing.chain_walk import IssuerStore
from agent.signing.consent import ConsentItem
from agent.signing.revinfo import (
    CLOCK_SKEW,
    TEMPORARY_REASONS,
    CertStatus,
    Status,
    load_certificates,
    ocsp_request,
    read_crl,
    read_ocsp_response,
    revocation_urls,
    unknown,
)
from agent.signing.status_fetch import get, post_ocsp
from agent.signing.trust import Purpose, _check_purpose
from agent.tokens.certinfo import parse_certificate

__all__ = [
    "UNKNOWN_LINE",
    "CertStatus",
    "Status",
    "StatusChecker",
    "check_before_signing",
    "consent_items",
    "evaluate",
    "read_crl",
    "read_ocsp_response",
    "revocation_urls",
    "still_true",
]

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0  # the whole check, OCSP and CRL together (issue 11)
OCSP_SHARE = 2.0 / 3.0  # OCSP may use this much of it, so a hung responder leaves time for CRL
UNKNOWN_MEMORY_SECONDS = 60.0
MAX_CRL_BYTES = 20 * 1024 * 1024  # Vietnamese CAs' CRLs run to a few MB
MEMORY_ENTRIES = 256  # cached answers kept parsed in memory (a machine has a few certificates)
# How long a cached "good" is believed, however far its nextUpdate (a CRL's may be 30 days):
# the day an OCSP answer without nextUpdate counts (revinfo.MAX_AGE_WITHOUT_NEXT_UPDATE), so a
# revocation reaches a machine that signs daily within a day, and one offline longer warns.
GOOD_CACHE_MAX = dt.timedelta(hours=24)
# Written into every cache file: a file written under older rules (which took a delta CRL or
# another partition's CRL for "good") is not believed, only asked again.
CACHE_RULES = 2

UNKNOWN_LINE = (
    "Cảnh báo / Warning",
    "Không kiểm tra được chứng thư số đã bị thu hồi hay chưa / the certificate's revocation "
    "status could not be checked",
)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def evaluate(cert_der: bytes, purpose: Purpose = "sign", now: dt.datetime | None = None) -> None:
    """Refuse a certificate that may not sign now, whatever its revocation status.

    Raises CERT_EXPIRED, CERT_NOT_YET_VALID, CERT_KEY_USAGE (a CA certificate, or key usage
    without digitalSignature/nonRepudiation for signing, digitalSignature for auth) or
    CERT_CRITICAL_EXTENSION (a critical extension verifiers do not handle).
    """
    info = parse_certificate(cert_der)
    problems = info.problems(now)
    details = {
        "subject": info.subject_display,
        "thumbprint": info.thumbprint,
        "not_before": info.not_before,
        "not_after": info.not_after,
        "purpose": purpose,
    }
    if "EXPIRED" in problems:
        raise KysoError("CERT_EXPIRED", details)
    if "NOT_YET_VALID" in problems:
        raise KysoError("CERT_NOT_YET_VALID", details)
    if info.is_ca:
        raise KysoError("CERT_KEY_USAGE", details)
    # The same key-usage rule the verifier applies (agent.signing.trust), not a second copy.
    _check_purpose(_asn1_certificate(cert_der), purpose)
    if "UNSUPPORTED_CRITICAL_EXTENSION" in problems:  # every verifier would refuse it
        extension = ", ".join(info.unhandled_critical_extensions)[:200]
        raise KysoError("CERT_CRITICAL_EXTENSION", {**details, "extension": extension})


@functools.lru_cache(maxsize=64)
def _asn1_certificate(der: bytes) -> asn1_x509.Certificate:
    """Parsed once per certificate: every signature checks the same few (0.4 ms each time)."""
    return asn1_x509.Certificate.load(der)


def consent_items(items: Sequence[ConsentItem], status: CertStatus) -> tuple[ConsentItem, ...]:
    """The consent items, each with :data:`UNKNOWN_LINE` first when the status is unknown
    (each item is signed with that certificate, so each says so)."""
    if status.status != "unknown":
        return tuple(items)
    return tuple(replace(item, lines=(UNKNOWN_LINE, *item.lines)) for item in items)


# --- I/O: fetching and caching ---------------------------------------------------------------


class StatusChecker:
    """Fetches revocation status (OCSP first, then CRL) within ``timeout`` seconds in all, and
    caches definite answers in ``cache_dir`` while :func:`still_true`."""

    def __init__(self, cache_dir: Path | None = None, *, timeout: float = TIMEOUT_SECONDS) -> None:
        if cache_dir is None:
            from agent.config.paths import data_dir

            cache_dir = data_dir() / "certstatus"
        self.cache_dir = cache_dir
        self.timeout = min(timeout, TIMEOUT_SECONDS)
        self._unknown: dict[str, tuple[float, CertStatus]] = {}
        # Answers read from the cache, with the file's stat when read: the file stays the
        # source (another agent or CLI run may write it, a user may clear it), but an
        # unchanged file is not read and parsed again at every signature.
        self._cache_dir = str(cache_dir)
        self._memory: dict[str, tuple[tuple[int, ...], CertStatus]] = {}
        self.issuers = IssuerStore(cache_dir / "issuers", self.timeout)

    def _cache_path(self, cert_der: bytes) -> Path:
        return self.cache_dir / f"{hashlib.sha256(cert_der).hexdigest()}.json"

    def cached(self, cert_der: bytes, now: dt.datetime | None = None) -> CertStatus | None:
        """A definite answer still to be believed (:func:`still_true`), or None."""
        now = _now(now)
        path = os.path.join(self._cache_dir, f"{hashlib.sha256(cert_der).hexdigest()}.json")
        try:
            st = os.stat(path)
        except OSError:  # never checked, or the cache was cleared: ask again
            self._memory.pop(path, None)
            return None
        # Every writer replaces the file (atomic_write), so a new answer is a new file: while
        # the stat is the same, the answer read last time is still what the file says.
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        kept = self._memory.get(path)
        if kept is not None and kept[0] == stamp:
            status = kept[1]
        else:
            try:
                with open(path, encoding="utf-8") as file:
                    data = json.load(file)
                if data.get("rules") != CACHE_RULES:
                    return None
                status = replace(CertStatus.from_json(data), cached=True)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return None
            if len(self._memory) >= MEMORY_ENTRIES:
                self._memory.clear()
            self._memory[path] = (stamp, status)
        return status if still_true(status, now) else None

    def known(self, cert_der: bytes, now: dt.datetime | None = None) -> CertStatus | None:
        """What :meth:`status` would answer without the network: a definite answer still
        believed, or an unknown one remembered for :data:`UNKNOWN_MEMORY_SECONDS`; else None."""
        hit = self.cached(cert_der, now)
        if hit is not None:
            return hit
        remembered = self._unknown.get(hashlib.sha256(cert_der).hexdigest())
        if remembered and time.monotonic() - remembered[0] < UNKNOWN_MEMORY_SECONDS:
            return remembered[1]
        return None

    def _store(self, cert_der: bytes, status: CertStatus, now: dt.datetime) -> None:
        if not still_true(status, now):
            return  # nothing to keep: no promise of how long it stays true
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            body = json.dumps({**status.to_json(), "rules": CACHE_RULES}, indent=1).encode()
            atomic_write(self._cache_path(cert_der), body, overwrite=True, mode=0o600)
        except OSError as exc:  # a full disk must not stop a signature
            log.warning("could not cache the revocation status: %s", exc)

    async def status(
        self,
        cert_der: bytes,
        issuers: Iterable[bytes] = (),
        now: dt.datetime | None = None,
        *,
        deadline: float | None = None,
    ) -> CertStatus:
        """The revocation status of ``cert_der`` (cached, fetched or unknown; never raises
        for network trouble). ``issuers``: DER CA certificates that may be its issuer;
        ``deadline``: when to give up (the loop's clock; default: the checker's timeout)."""
        now = _now(now)
        hit = self.cached(cert_der, now)
        if hit is not None:
            return hit
        key = hashlib.sha256(cert_der).hexdigest()
        remembered = self._unknown.get(key)
        if remembered and time.monotonic() - remembered[0] < UNKNOWN_MEMORY_SECONDS:
            return remembered[1]
        try:
            cert = x509.load_der_x509_certificate(cert_der)
        except ValueError:
            return unknown("the certificate cannot be read", now)
        result = await self._fetch(cert, issuers, now, deadline)
        if result.status == "unknown":
            self._unknown[key] = (time.monotonic(), result)
        else:
            self._unknown.pop(key, None)
            self._store(cert_der, result, now)
        return result

    async def _fetch(
        self,
        cert: x509.Certificate,
        issuers: Iterable[bytes],
        now: dt.datetime,
        deadline: float | None = None,
    ) -> CertStatus:
        import aiohttp

        ocsp_urls, crl_urls, _ = revocation_urls(cert)
        if not ocsp_urls and not crl_urls:
            return unknown("the certificate names no OCSP or CRL address", now)
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + self.timeout
        candidates = [c for der in issuers for c in load_certificates(der)]
        reasons: list[str] = []
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                asyncio.timeout_at(deadline),
                aiohttp.ClientSession(timeout=timeout) as session,
            ):
                issuer = await self.issuers.issuer_of(cert, candidates, session)
                if issuer is None:
                    return unknown("the issuing CA's certificate was not found", now)
                answer = await _ask_ocsp(
                    session, cert, issuer, ocsp_urls, deadline, bool(crl_urls), now, reasons
                )
                if answer is None:
                    answer = await _ask_crl(session, cert, issuer, crl_urls, now, reasons)
                if answer is not None:
                    return answer
        except TimeoutError:
            reasons.append(f"no answer within {self.timeout:g} s")
        except Exception as exc:  # what a responder sends must never block a signature
            log.warning("revocation check failed", exc_info=True)
            reasons.append(f"the answer could not be read ({type(exc).__name__})")
        return unknown("; ".join(reasons) or "no answer", now)


def still_true(status: CertStatus, now: dt.datetime) -> bool:
    """Whether a definite answer fetched at ``status.checked_at`` may still be believed at
    ``now``: a revocation for good; a hold until nextUpdate; a "good" until nextUpdate but
    :data:`GOOD_CACHE_MAX` at most. Unknown never."""
    if status.status == "revoked" and status.revocation_reason not in TEMPORARY_REASONS:
        return True
    if status.status == "unknown" or status.next_update is None or status.next_update <= now:
        return False
    if status.status == "good":
        # A checked_at ahead of now (the clock went back) must not stretch the day.
        return status.checked_at - CLOCK_SKEW <= now < status.checked_at + GOOD_CACHE_MAX
    return True


async def _ask_ocsp(
    session: Any,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    urls: Iterable[str],
    deadline: float,
    crl_to_fall_back_on: bool,
    now: dt.datetime,
    reasons: list[str],
) -> CertStatus | None:
    """A good or revoked OCSP answer, or None (each failure's reason added to ``reasons``)."""
    loop = asyncio.get_running_loop()
    request = ocsp_request(cert, issuer)
    for url in urls:
        # OCSP gets part of the time: a hung responder still leaves room for the CRL.
        limit = loop.time() + (deadline - loop.time()) * OCSP_SHARE
        try:
            # Without a CRL to fall back on, the outer deadline alone applies.
            async with asyncio.timeout_at(limit) if crl_to_fall_back_on else _no_limit():
                body = await post_ocsp(session, url, request)
        except TimeoutError:
            reasons.append(f"OCSP {url}: no answer in time")
            continue
        if isinstance(body, str):
            reasons.append(f"OCSP {url}: {body}")
            continue
        result = read_ocsp_response(body, cert, issuer, now, url)
        if result.status != "unknown":
            return result
        reasons.append(result.reason)
    return None


async def _ask_crl(
    session: Any,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    urls: Iterable[str],
    now: dt.datetime,
    reasons: list[str],
) -> CertStatus | None:
    """A good or revoked answer from a CRL, or None (reasons added to ``reasons``)."""
    for url in urls:
        body = await get(session, url, MAX_CRL_BYTES)
        if isinstance(body, str):
            reasons.append(f"CRL {url}: {body}")
            continue
        # A CRL runs to megabytes (20 MB parsed in 0.8 s here): read on a thread, so the
        # agent keeps answering other pages meanwhile (red team 39).
        result = await asyncio.to_thread(read_crl, body, cert, issuer, now, url)
        if result.status != "unknown":
            return result
        reasons.append(result.reason)
    return None


def _no_limit() -> contextlib.AbstractAsyncContextManager[None]:
    return contextlib.nullcontext()


async def check_before_signing(
    checker: StatusChecker,
    cert_der: bytes,
    purpose: Purpose = "sign",
    issuers: Iterable[bytes] = (),
    now: dt.datetime | None = None,
) -> CertStatus:
    """Refuse a certificate that may not sign (see :func:`evaluate`) or that its CA revoked
    (CERT_REVOKED), and one whose issuing CA (or a CA above it) was revoked by the CA above
    or has expired: verifiers judge the whole chain (red team 39). Otherwise return its
    status, good or unknown (the caller shows a line); a CA whose status is unknown makes it
    unknown. The certificate and its CAs are asked about at once, within one time budget."""
    evaluate(cert_der, purpose, now)
    issuers = tuple(issuers)
    # One budget for the whole check: fetching CAs and asking every status (red team 42).
    deadline = asyncio.get_running_loop().time() + checker.timeout
    chain = await checker.issuers.walk(cert_der, issuers, deadline)
    cas = chain.cas
    when = _now(now)
    out_of_date = None
    for ca in cas:  # dates need no network: every CA above, checkable or not
        if not ca.not_before <= when <= ca.not_after and ca.fetched:
            # Perhaps an older issue of that CA served in place of the current one (review 42).
            out_of_date = "a CA certificate fetched from caIssuers is outside its dates"
            continue
        if not ca.not_before <= when <= ca.not_after:
            info = parse_certificate(cert_der)
            raise KysoError(
                "CERT_EXPIRED",
                {
                    "subject": info.subject_display,
                    "thumbprint": info.thumbprint,
                    "not_after": ca.not_after.isoformat(),
                    "not_before": ca.not_before.isoformat(),
                    "issuing_ca": parse_certificate(ca.der).subject_display,
                    "purpose": purpose,
                },
            )
    asked = [ca for ca in cas if ca.checkable and ca.not_before <= when <= ca.not_after]
    own, *above = await _statuses(
        checker, [cert_der, *(ca.der for ca in asked)], issuers, now, deadline
    )
    if own.status == "revoked":
        raise _revoked(own, cert_der)
    for ca, status in zip(asked, above, strict=True):
        if status.status == "revoked":
            raise _revoked(status, cert_der, issuing_ca=parse_certificate(ca.der).subject_display)
    if own.status != "unknown":
        doubt = next((s for s in above if s.status == "unknown"), None)
        if doubt is not None:
            return replace(doubt, reason=f"the issuing CA's status: {doubt.reason}")
        doubt_reason = chain.unconfirmed or out_of_date
        if doubt_reason is not None:
            return unknown(f"the issuing CA's status: {doubt_reason}", when)
    return own


async def _statuses(
    checker: StatusChecker,
    ders: list[bytes],
    issuers: tuple[bytes, ...],
    now: dt.datetime | None,
    deadline: float,
) -> list[CertStatus]:
    """Each certificate's status: from what the checker knows when it knows them all (every
    signature but the first of the day, or of a minute offline: no task made), else the
    missing ones asked about at once."""
    found: list[CertStatus | None] = [checker.known(der, now) for der in ders]
    missing = [i for i, status in enumerate(found) if status is None]
    if missing:
        asked = await asyncio.gather(
            *(checker.status(ders[i], issuers, now, deadline=deadline) for i in missing)
        )
        for i, status in zip(missing, asked, strict=True):
            found[i] = status
    return [status for status in found if status is not None]


def _revoked(status: CertStatus, cert_der: bytes, **more: str) -> KysoError:
    info = parse_certificate(cert_der)
    return KysoError(
        "CERT_REVOKED",
        {
            "revoked_at": status.revoked_at.isoformat() if status.revoked_at else "?",
            "reason": status.revocation_reason or "",
            "source": status.source,
            "subject": info.subject_display,
            "thumbprint": info.thumbprint,
            **more,
        },
    )
