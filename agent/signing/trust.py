"""Is this signer certificate trustworthy at that moment? Chain, validity, revocation, usage.

Path building, chain signatures, validity periods and CRL checks are pyhanko-certvalidator's
work (a maintained RFC 5280 implementation); this module only prepares its inputs once
(:class:`TrustStore` keeps parsed anchors, intermediates and CRLs, because a portal calls
:func:`validate_certificate` on every request) and maps its verdicts onto Kyso's stable error
codes. Nothing is ever fetched: CRL distribution points in certificates are ignored, only the
CRLs given to the store count.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from agent.errors import KysoError, invalid_input
from agent.files import TRUST_FILE_MAX_BYTES, read_regular
from agent.tokens.certinfo import NOT_FOR_DOCUMENTS, CertificateInfo, parse_certificate

Purpose = Literal["sign", "auth", "timestamp"]  # timestamp: a TSA's own certificate
RevocationMode = Literal["require", "hard-fail", "soft-fail"]

# Key usage bits (asn1crypto names) that allow each purpose: any one of them is enough.
_PURPOSE_KEY_USAGE: dict[str, frozenset[str]] = {
    "sign": frozenset({"digital_signature", "non_repudiation"}),
    "auth": frozenset({"digital_signature"}),
    "timestamp": frozenset({"digital_signature", "non_repudiation"}),
}
# Extended key usages acceptable for authentication when the certificate restricts EKU at all
# (Web eID's validator requires clientAuth likewise).
_AUTH_EKU = frozenset({"client_auth", "any_extended_key_usage"})

T = TypeVar("T")


def _load_der_blocks(data: bytes) -> list[bytes]:
    """All DER objects in a PEM file (several blocks allowed) or the single DER object."""
    if pem.detect(data):
        return [der for _, _, der in pem.unarmor(data, multiple=True)]
    return [data]


def _parse_cert(der: bytes, source: str) -> asn1_x509.Certificate:
    try:
        cert = asn1_x509.Certificate.load(der)
        cert.native  # noqa: B018 — force a full parse so a broken file fails here, not later
    except (ValueError, TypeError) as exc:
        raise KysoError("CERT_INVALID", {"detail": f"{source}: {exc}"}) from exc
    return cert


def _parse_crl(der: bytes, source: str) -> asn1_crl.CertificateList:
    try:
        crl = asn1_crl.CertificateList.load(der)
        crl["tbs_cert_list"]["issuer"].native  # noqa: B018 — fail early on a broken file
    except (ValueError, TypeError) as exc:
        raise invalid_input(
            f"{source}: not a CRL ({exc})", f"{source}: không phải danh sách thu hồi CRL ({exc})"
        ) from exc
    return crl


@dataclass
class TrustStore:
    """Trust anchors, known intermediate CA certificates and CRLs, parsed once.

    ``revocation_mode`` is pyhanko-certvalidator's: ``hard-fail`` (default) refuses a
    certificate whose CA publishes a CRL that the store does not have; ``require`` wants
    revocation data for every certificate; ``soft-fail`` checks what it has and lets missing
    data pass (only for tools that say so to the user). ``allow_sha1`` accepts certificates
    signed with SHA-1 (legacy CAs); MD5 and MD2 are always refused.
    """

    anchors: list[asn1_x509.Certificate] = field(default_factory=list)
    intermediates: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    revocation_mode: RevocationMode = "hard-fail"
    # Older Vietnamese CA certificates are SHA-1 signed; accept them only when asked.
    allow_sha1: bool = False

    @classmethod
    def from_files(
        cls,
        ca_paths: Iterable[str | Path],
        crl_paths: Iterable[str | Path] = (),
        *,
        revocation_mode: RevocationMode = "hard-fail",
        allow_sha1: bool = False,
    ) -> TrustStore:
        """Load CA certificates (PEM, possibly several per file, or DER) and CRLs.

        Self-signed CA certificates become trust anchors; the others are kept as intermediates
        that path building may use (they are trusted only through a chain to an anchor).
        """
        certs: list[asn1_x509.Certificate] = []
        for path in ca_paths:
            for der in _load_der_blocks(_read(path)):
                certs.append(_parse_cert(der, str(path)))
        crls = [_parse_crl(der, str(p)) for p in crl_paths for der in _load_der_blocks(_read(p))]
        return cls.from_certificates(
            certs, crls, revocation_mode=revocation_mode, allow_sha1=allow_sha1
        )

    @classmethod
    def from_certificates(
        cls,
        certs: Iterable[asn1_x509.Certificate | bytes],
        crls: Iterable[asn1_crl.CertificateList | bytes] = (),
        *,
        revocation_mode: RevocationMode = "hard-fail",
        allow_sha1: bool = False,
    ) -> TrustStore:
        """Build a store from certificates and CRLs already in memory (DER or parsed)."""
        store = cls(revocation_mode=revocation_mode, allow_sha1=allow_sha1)
        for cert in certs:
            parsed = cert if isinstance(cert, asn1_x509.Certificate) else _parse_cert(cert, "CA")
            (
                store.anchors if parsed.self_signed in ("yes", "maybe") else store.intermediates
            ).append(parsed)
        for item in crls:
            store.crls.append(
                item if isinstance(item, asn1_crl.CertificateList) else _parse_crl(item, "CRL")
            )
        if not store.anchors:
            raise invalid_input(
                "no self-signed root CA certificate given",
                "chưa có chứng thư CA gốc (tự ký) nào được đưa vào",
            )
        return store

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as DER (a verification in a child process): asn1crypto objects already read
        # do not survive pickling whole (a certificate came back without its field map).
        return (
            _store_from_der,
            (
                [cert.dump() for cert in self.anchors],
                [cert.dump() for cert in self.intermediates],
                [crl.dump() for crl in self.crls],
                self.revocation_mode,
                self.allow_sha1,
            ),
        )

    def context(
        self, at: dt.datetime | None, extra_certs: Sequence[bytes] = ()
    ) -> ValidationContext:
        """A fresh pyhanko-certvalidator context for one validation (never fetching)."""
        others = [
            *self.intermediates,
            *_few_alike(_parse_cert(der, "signature") for der in extra_certs),
        ]
        return ValidationContext(
            trust_roots=self.anchors,
            other_certs=others,
            crls=list(self.crls),
            moment=_aware(at) if at is not None else None,
            allow_fetching=False,
            revocation_mode=self.revocation_mode,
            # A CRL issued after the signing time still tells whether the certificate was
            # revoked at that time (it would list the revocation with its date).
            retroactive_revinfo=True,
            weak_hash_algos={"md2", "md5"} if self.allow_sha1 else {"md2", "md5", "sha1"},
        )


def _store_from_der(
    anchors: list[bytes],
    intermediates: list[bytes],
    crls: list[bytes],
    revocation_mode: RevocationMode,
    allow_sha1: bool,
) -> TrustStore:
    return TrustStore(
        [asn1_x509.Certificate.load(der) for der in anchors],
        [asn1_x509.Certificate.load(der) for der in intermediates],
        [asn1_crl.CertificateList.load(der) for der in crls],
        revocation_mode,
        allow_sha1,
    )


# A signature's own certificates only help build a path; a chain needs one per CA. The path
# builder tries every order of certificates that name each other (it matches issuers by name):
# nine named "Loop CA" took 278 s, ten would take half an hour. Two per name (an old and a
# renewed CA certificate) and ten in all leave at most a thousand orders to try.
MAX_EXTRA_PER_NAME = 2
MAX_EXTRA_CERTIFICATES = 10


def _few_alike(certs: Iterable[asn1_x509.Certificate]) -> list[asn1_x509.Certificate]:
    """The first certificates of a signature, at most :data:`MAX_EXTRA_PER_NAME` per subject
    and :data:`MAX_EXTRA_CERTIFICATES` in all (repeats dropped)."""
    kept: list[asn1_x509.Certificate] = []
    seen: set[bytes] = set()
    per_name: dict[bytes, int] = {}
    for cert in certs:
        der, name = cert.dump(), cert.subject.dump()
        if der in seen or per_name.get(name, 0) >= MAX_EXTRA_PER_NAME:
            continue
        seen.add(der)
        per_name[name] = per_name.get(name, 0) + 1
        kept.append(cert)
        if len(kept) == MAX_EXTRA_CERTIFICATES:
            break
    return kept


def _read(path: str | Path) -> bytes:
    # A regular file of bounded size: a pipe given as --trust never hangs the command.
    return read_regular(path, max_bytes=TRUST_FILE_MAX_BYTES)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return _aware(moment).astimezone(dt.UTC).isoformat()


async def validate_certificate_async(
    cert_der: bytes,
    trust: TrustStore,
    *,
    at: dt.datetime | None = None,
    extra_certs: Sequence[bytes] = (),
    purpose: Purpose = "sign",
) -> CertificateInfo:
    """Async form of :func:`validate_certificate` for callers already in an event loop."""
    leaf = _parse_cert(cert_der, "signer certificate")
    info = parse_certificate(leaf.dump())
    validator = CertificateValidator(leaf, validation_context=trust.context(at, extra_certs))
    try:
        await validator.async_validate_path()
    except cv_errors.PathBuildingError as exc:
        raise KysoError("CERT_UNTRUSTED", {"detail": str(exc), "subject": info.subject}) from exc
    except cv_errors.RevokedError as exc:
        raise KysoError(
            "CERT_REVOKED",
            {
                "revoked_at": _iso(exc.revocation_dt),
                "reason": exc.reason.human_friendly,
                "subject": info.subject,
                "detail": str(exc),
            },
        ) from exc
    except cv_errors.ExpiredError as exc:
        raise KysoError(
            "CERT_EXPIRED",
            {"not_after": _iso(exc.expired_dt), "subject": info.subject, "detail": str(exc)},
        ) from exc
    except cv_errors.NotYetValidError as exc:
        raise KysoError(
            "CERT_NOT_YET_VALID",
            {"not_before": _iso(exc.valid_from), "subject": info.subject, "detail": str(exc)},
        ) from exc
    except cv_errors.StaleRevinfoError as exc:
        raise KysoError("CRL_EXPIRED", {"subject": info.subject, "detail": str(exc)}) from exc
    except cv_errors.InsufficientRevinfoError as exc:
        raise KysoError("CRL_MISSING", {"subject": info.subject, "detail": str(exc)}) from exc
    except cv_errors.PathValidationError as exc:
        # Bad CA signature, constraints, disallowed algorithm...: not a chain we can trust.
        raise KysoError("CERT_UNTRUSTED", {"detail": str(exc), "subject": info.subject}) from exc
    except cv_errors.ValidationError as exc:
        raise KysoError("CERT_UNTRUSTED", {"detail": str(exc), "subject": info.subject}) from exc
    _check_purpose(leaf, purpose)
    return info


def _check_purpose(cert: asn1_x509.Certificate, purpose: Purpose) -> None:
    """Key usage (and for authentication, extended key usage) must allow ``purpose``.

    A certificate without key usage is unrestricted for signing (RFC 5280 §4.2.1.3); for
    authentication, as in Web eID's validators, digitalSignature must be stated.
    """
    if purpose not in _PURPOSE_KEY_USAGE:
        raise ValueError(f"unknown purpose {purpose!r}")
    ku = cert.key_usage_value
    if ku is None and purpose == "auth":
        # Web eID's validators insist on an explicit digitalSignature bit for authentication.
        raise KysoError("CERT_KEY_USAGE", {"purpose": purpose, "key_usage": ""})
    if ku is not None and not (_PURPOSE_KEY_USAGE[purpose] & set(ku.native)):
        raise KysoError(
            "CERT_KEY_USAGE", {"purpose": purpose, "key_usage": ",".join(sorted(ku.native))}
        )
    eku = cert.extended_key_usage_value
    if (
        purpose == "sign"
        and eku is not None
        and eku.native
        and set(eku.native) <= NOT_FOR_DOCUMENTS
    ):
        raise KysoError(
            "CERT_KEY_USAGE", {"purpose": purpose, "extended_key_usage": ",".join(eku.native)}
        )
    if purpose == "auth" and eku is not None and not (_AUTH_EKU & set(eku.native)):
        raise KysoError(
            "CERT_KEY_USAGE", {"purpose": purpose, "extended_key_usage": ",".join(eku.native)}
        )


_EXECUTOR: concurrent.futures.ThreadPoolExecutor | None = None


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running loop.

    pyhanko-certvalidator only has an async API; the contract promises a plain function (the
    portal and the XML verifier are synchronous). Inside a running loop the coroutine runs on
    a private thread with its own loop, so the caller's loop is never re-entered.
    """
    global _EXECUTOR
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    if _EXECUTOR is None:
        _EXECUTOR = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="kyso-trust")
    return _EXECUTOR.submit(asyncio.run, coro).result()


def validate_certificate(
    cert_der: bytes,
    trust: TrustStore,
    *,
    at: dt.datetime | None = None,
    extra_certs: Sequence[bytes] = (),
    purpose: Purpose = "sign",
) -> CertificateInfo:
    """Validate a signer certificate against ``trust`` at time ``at`` (default: now).

    Checks the chain to a trust anchor (using the store's intermediates and ``extra_certs``,
    e.g. certificates carried in a signature), every certificate's validity at ``at``,
    revocation by the store's CRLs (never fetched) and that key usage allows ``purpose``
    ("sign": digitalSignature or nonRepudiation; "auth": digitalSignature, and clientAuth when
    the certificate lists extended key usages). Returns the parsed certificate (with MST/CCCD)
    or raises KysoError: CERT_UNTRUSTED, CERT_EXPIRED, CERT_NOT_YET_VALID, CERT_REVOKED,
    CERT_KEY_USAGE, CRL_MISSING, CRL_EXPIRED, CERT_INVALID.
    """
    return _run_sync(
        validate_certificate_async(cert_der, trust, at=at, extra_certs=extra_certs, purpose=purpose)
    )
