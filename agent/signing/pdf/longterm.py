"""B-LT: gather the signer's chain and its revocation answers before the token signs.

PAdES-B-LT puts the certificates and the CRL/OCSP answers a verifier needs into the document
security store (DSS), so the signature can still be checked after the CA's responders are gone.
Which root does the chain end in? The signer does not decide trust here (the recipient does,
with its own anchors); it only collects the material of the chain its certificate actually has.
So the roots are the anchors given explicitly (``--trust``), plus every self-signed CA
certificate among ``ca_certs`` (what the tokens carry: Vietnamese CAs put their issuing CA and
often the root on the token), and intermediates come from ``ca_certs`` or AIA caIssuers.

The check runs first, under a deadline, with revocation data required for every certificate
below the root: the signer's chain, and, when the caller names the timestamp authority, the
chain of the certificate it stamps with (learnt from a test timestamp, as pyHanko does before
signing), since B-LT's DSS must let a verifier check the timestamp too. When it fails
(offline, no root at hand, a responder that does not answer, a TSA certificate with no
revocation address) the signature falls back to B-T with a line saying why, instead of failing
or claiming B-LT; the token signs once either way. Without the TSA's address the TSA chain
cannot be checked before signing, and pyHanko embeds whatever it finds for it.

Only OCSP answers that say "good" go into the DSS: an "unknown" answer (a responder that does
not know the certificate) is no validation data, and a verifier reading it from the file would
report it as a problem; the check above already required a usable answer from OCSP or the CRL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

LONG_TERM_SECONDS = 15.0  # the whole gathering: certificates, OCSP and CRLs
NO_TIMESTAMP_LINE = (
    "B-LT cần dấu thời gian nhưng chưa cấu hình máy chủ cấp dấu thời gian nên chữ ký là "
    "PAdES-B-B / B-LT needs a timestamp and no timestamp authority is configured, so the "
    "signature is PAdES-B-B"
)
FALLBACK_LINE = (
    "Không lấy được dữ liệu thu hồi chứng thư số nên chữ ký là PAdES-B-T, không phải B-LT "
    "/ revocation data could not be fetched, so the signature is PAdES-B-T, not B-LT: {reason}"
)


def _split(
    trust_roots: tuple[bytes, ...], ca_certs: tuple[bytes, ...]
) -> tuple[list[Any], list[Any]]:
    """Anchors (the explicit ones and every self-signed CA certificate) and intermediates."""
    from asn1crypto import x509 as asn1_x509

    roots = [asn1_x509.Certificate.load(der) for der in trust_roots]
    others: list[Any] = []
    for der in ca_certs:
        cert = asn1_x509.Certificate.load(der)
        (roots if cert.self_signed in ("maybe", "yes") else others).append(cert)
    return roots, others


@contextlib.asynccontextmanager
async def long_term_context(
    cert_der: bytes,
    trust_roots: tuple[bytes, ...],
    ca_certs: tuple[bytes, ...],
    now: dt.datetime,
    *,
    timeout: float = LONG_TERM_SECONDS,
    timestamp_url: str | None = None,
) -> AsyncIterator[tuple[Any | None, str | None]]:
    """A pyHanko validation context holding the signer's chain and revocation answers, or
    ``(None, line)`` saying in Vietnamese and English why B-LT is not reachable. With
    ``timestamp_url`` the timestamp authority's chain must have its revocation data too. Its
    HTTP session is closed on leaving, so sign inside the ``async with``."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    from agent.httpbody import bounded_session
    from agent.signing.certstatus import MAX_CRL_BYTES

    # No redirects and a cap on every answer, as Kyso's own revocation checks (the largest
    # cap, a CRL's, for all: one session serves the certificate, OCSP and CRL fetchers).
    session = bounded_session(MAX_CRL_BYTES)
    backend = AIOHttpFetcherBackend(session, per_request_timeout=timeout / 3)
    try:
        yield await _gather(cert_der, trust_roots, ca_certs, now, backend, timeout, timestamp_url)
    finally:
        await backend.close()
        await session.close()


def says_good(response: Any) -> bool:
    """Whether an OCSP answer (asn1crypto) is a successful one saying "good" for every
    certificate it speaks of: the only kind that is validation data worth embedding."""
    if response["response_status"].native != "successful":
        return False
    single = response.response_data["responses"]
    return len(single) > 0 and all(item["cert_status"].name == "good" for item in single)


def _embedding_context(**kwargs: Any) -> Any:
    """A ValidationContext whose ``ocsps`` (what pyHanko copies into the DSS) keeps only the
    answers that say "good"; the validation itself sees every answer, as before."""
    from pyhanko_certvalidator import ValidationContext

    class GoodAnswersOnly(ValidationContext):
        @property
        def ocsps(self) -> list[Any]:
            return [answer for answer in super().ocsps if says_good(answer)]

    return GoodAnswersOnly(**kwargs)


async def _check_timestamp_authority(url: str, check: Any, timeout: float) -> None:
    """Ask the TSA for a test timestamp (pyHanko's own dummy request) and validate the chain of
    every certificate in it with ``check``: revocation data required, as for the signer."""
    from agent.signing.tsa import CheckedTimeStamper

    stamper = CheckedTimeStamper(url, timeout=timeout)
    async for _path in stamper.validation_paths(check):
        pass


async def _gather(
    cert_der: bytes,
    trust_roots: tuple[bytes, ...],
    ca_certs: tuple[bytes, ...],
    now: dt.datetime,
    backend: Any,
    timeout: float,
    timestamp_url: str | None = None,
) -> tuple[Any | None, str | None]:
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathError, ValidationError

    roots, others = _split(trust_roots, ca_certs)
    if not roots:
        return None, FALLBACK_LINE.format(reason="no root CA certificate (give it with --trust)")
    check = ValidationContext(
        trust_roots=roots,
        other_certs=others,
        allow_fetching=True,
        moment=now,
        revocation_mode="require",  # B-LT means the answers are in the file: none may be missing
        fetcher_backend=backend,
    )
    validator = CertificateValidator(asn1_x509.Certificate.load(cert_der), validation_context=check)
    whose = "the signer's certificate"
    try:
        async with asyncio.timeout(timeout):
            await validator.async_validate_usage(set())
            if timestamp_url:
                whose = "the timestamp authority's certificate"
                await _check_timestamp_authority(timestamp_url, check, timeout / 3)
    except TimeoutError:
        return None, FALLBACK_LINE.format(reason=f"{whose}: no answer within {timeout:g} s")
    except (PathError, ValidationError, OSError) as exc:
        return None, FALLBACK_LINE.format(reason=f"{whose}: {str(exc) or type(exc).__name__}")
    # pyHanko validates the timestamp authority's chain again with this context when it fills
    # the DSS. Soft here: when the caller did not name the TSA it was not checked above, and a
    # TSA certificate without a revocation address must not fail a signature the token made.
    embed = _embedding_context(
        trust_roots=roots,
        other_certs=others,
        allow_fetching=True,
        moment=now,
        fetcher_backend=backend,
    )
    return embed, None
