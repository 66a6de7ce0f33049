"""The CA certificates a signature carries: the path from a signer's certificate up to, but not
including, its root, built from certificates at hand (the CA certificates stored on the tokens,
a remote provider's chain). Pure: no I/O, no network.

A verifier that trusts only the national root (how trust lists are set up: the Vietnamese root
CA, not each CA's issuing certificate) cannot build the path from the signer's certificate
alone: openssl, poppler and pyHanko all said "issuer unknown" for Kyso's CMS and PDF
signatures, which carried the signer's certificate only. ETSI EN 319 122-1 asks a B-B signature
to carry the certificates a verifier may not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is imported where a chain is built (footprint)
    from cryptography import x509

# A real chain has one to three CAs below the root; a loop of cross-certificates ends here.
MAX_DEPTH = 5


def issuer_chain(leaf: bytes, candidates: Iterable[bytes]) -> tuple[bytes, ...]:
    """DER certificates from ``candidates`` that lead from ``leaf`` (DER) towards its root,
    nearest issuer first, the self-signed root left out (a verifier must have it already, and
    a root inside a signature is no reason to trust it). An issuer counts only when its key
    verifies the certificate below it: a CA certificate that merely shares the issuer's name
    (a renewed CA with a new key) is not taken. Stops where no issuer is at hand."""
    from cryptography import x509

    try:
        current = x509.load_der_x509_certificate(leaf)
    except ValueError:
        return ()
    pool: list[tuple[bytes, x509.Certificate]] = []
    for der in dict.fromkeys(candidates):  # the same CA on two tokens once
        try:
            pool.append((der, x509.load_der_x509_certificate(der)))
        except ValueError:
            continue
    chain: list[bytes] = []
    for _ in range(MAX_DEPTH):
        issuer = _issuer_of(current, pool)
        if issuer is None or issuer[1].subject == issuer[1].issuer:  # none, or the root
            break
        if issuer[0] in chain:  # cross-certificates in a loop
            break
        chain.append(issuer[0])
        current = issuer[1]
    return tuple(chain)


def _issuer_of(
    cert: x509.Certificate, pool: list[tuple[bytes, x509.Certificate]]
) -> tuple[bytes, x509.Certificate] | None:
    """The issuer of ``cert`` in ``pool``; among several with its key (a CA re-issued with the
    same key: an expired copy often stays on the token), one valid now, the latest to
    expire: an expired copy in the signature fails verifiers that take the first they find."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    found: list[tuple[bool, dt.datetime, bytes, x509.Certificate]] = []
    for der, candidate in pool:
        if candidate.subject != cert.issuer or candidate == cert:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except Exception:  # InvalidSignature (another key), an algorithm it cannot check
            continue
        start, end = candidate.not_valid_before_utc, candidate.not_valid_after_utc
        found.append((start <= now <= end, end, der, candidate))
    if not found:
        return None
    _, _, der, chosen = max(found, key=lambda item: (item[0], item[1]))
    return der, chosen
