"""Revocation data, read and verified: OCSP answers and CRLs for one certificate (pure).

Nothing here touches the network (:mod:`agent.signing.certstatus` fetches). Verifying needs
only the issuing CA certificate: the leaf must verify under it (:func:`find_issuer`), an OCSP
answer must be signed by it or by a responder it issued for id-kp-OCSPSigning (RFC 6960
§4.2.2.2), a CRL must be signed by it. Anything that cannot be trusted is "unknown", never
"good". ASN.1 is cryptography's work; only the rules are here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from agent.signing.trust import _load_der_blocks

Status = Literal["good", "revoked", "unknown"]
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class CertStatus:
    """The revocation status of one certificate: good, revoked or unknown, and why."""

    status: Status
    reason: str  # human-readable, English: "OCSP: good", "no answer within 3 s", ...
    source: str  # "ocsp", "crl" or "none"
    checked_at: dt.datetime
    next_update: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    url: str | None = None
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON form (ISO 8601 times) for doctor, certs --json and the cache."""
        data = asdict(self)
        for key in ("checked_at", "next_update", "revoked_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertStatus:
        """Read :meth:`to_json` back (the cache)."""
        times = {
            key: dt.datetime.fromisoformat(data[key]) if data.get(key) else None
            for key in ("checked_at", "next_update", "revoked_at")
        }
        return cls(
            status=data["status"],
            reason=data["reason"],
            source=data["source"],
            checked_at=times["checked_at"] or dt.datetime.now(dt.UTC),
            next_update=times["next_update"],
            revoked_at=times["revoked_at"],
            revocation_reason=data.get("revocation_reason"),
            url=data.get("url"),
            cached=bool(data.get("cached", False)),
        )


# Keys a CA can sign a CRL with (cryptography's verifier takes exactly these).
_CA_KEY_TYPES = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    dsa.DSAPublicKey,
)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def unknown(reason: str, now: dt.datetime | None = None, url: str | None = None) -> CertStatus:
    """A status-unknown result (never cached on disk)."""
    return CertStatus("unknown", reason, "none", _now(now), url=url)


def revocation_urls(cert: x509.Certificate) -> tuple[list[str], list[str], list[str]]:
    """(OCSP URLs, CRL URLs, caIssuers URLs) named by the certificate; http(s) only."""

    def web(names: Iterable[x509.GeneralName]) -> list[str]:
        return [
            n.value
            for n in names
            if isinstance(n, x509.UniformResourceIdentifier)
            and n.value.lower().startswith(("http://", "https://"))
        ]

    ocsp_urls: list[str] = []
    issuers: list[str] = []
    crls: list[str] = []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        for desc in aia:
            if desc.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp_urls += web([desc.access_location])
            elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                issuers += web([desc.access_location])
    except x509.ExtensionNotFound:
        pass
    try:
        for point in cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value:
            if point.full_name and point.crl_issuer is None:  # indirect CRLs: not supported
                crls += web(point.full_name)
    except x509.ExtensionNotFound:
        pass
    return ocsp_urls, crls, issuers


def find_issuer(
    cert: x509.Certificate, candidates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The candidate that really issued ``cert`` (name match AND its signature verifies)."""
    for candidate in candidates:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates in a DER or PEM blob (what caIssuers URLs and tokens give); broken ones are
    skipped."""
    out = []
    for der in _load_der_blocks(data):
        try:
            out.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    return out


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A DER OCSP request for ``cert`` (SHA-1 CertID, what RFC 5019 responders all support)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def _verify_signature(
    public_key: Any, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _key_hash(certificate: x509.Certificate) -> bytes:
    # ResponderID byKey is the SHA-1 of the subjectPublicKey bits, as a subject key id is.
    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _responder_key(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime
) -> Any | None:
    """The public key allowed to sign this answer: the CA's own, or a responder certificate
    the CA issued for OCSP signing (RFC 6960 §4.2.2.2), valid now."""

    def named(candidate: x509.Certificate) -> bool:
        if response.responder_name is not None:
            return response.responder_name == candidate.subject
        return response.responder_key_hash == _key_hash(candidate)

    if named(issuer):
        return issuer.public_key()
    for candidate in response.certificates:
        if not named(candidate) or find_issuer(candidate, [issuer]) is None:
            continue
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            continue
        try:
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return candidate.public_key()
    return None


def read_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime | None = None,
    url: str | None = None,
) -> CertStatus:
    """Verify an OCSP answer for ``cert`` and say what it means (unknown when it cannot be
    trusted: malformed, not successful, wrong signer, bad signature, stale, another cert)."""
    now = _now(now)
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return unknown("OCSP: malformed answer", now, url)
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return unknown(f"OCSP: responder said {response.response_status.name}", now, url)
    key = _responder_key(response, issuer, now)
    if key is None:
        return unknown("OCSP: answer not signed by the CA or its responder", now, url)
    if not _verify_signature(
        key, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        return unknown("OCSP: bad signature on the answer", now, url)
    for single in response.responses:
        expected = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, single.hash_algorithm)
        request = expected.build()
        if (
            single.serial_number != cert.serial_number
            or single.issuer_key_hash != request.issuer_key_hash
            or single.issuer_name_hash != request.issuer_name_hash
        ):
            continue
        if single.this_update_utc > now + CLOCK_SKEW:
            return unknown("OCSP: answer dated in the future", now, url)
        next_update = single.next_update_utc
        if next_update is not None and next_update < now - CLOCK_SKEW:
            return unknown("OCSP: answer out of date", now, url)
        state = single.certificate_status
        if state == ocsp.OCSPCertStatus.GOOD:
            return CertStatus("good", "OCSP: good", "ocsp", now, next_update, url=url)
        if state == ocsp.OCSPCertStatus.REVOKED:
            reason = single.revocation_reason
            return CertStatus(
                "revoked",
                "OCSP: revoked",
                "ocsp",
                now,
                next_update,
                revoked_at=single.revocation_time_utc,
                revocation_reason=reason.name if reason else None,
                url=url,
            )
        return unknown("OCSP: the responder does not know this certificate", now, url)
    return unknown("OCSP: the answer is about another certificate", now, url)


def read_crl(
    data: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime | None = None,
    url: str | None = None,
) -> CertStatus:
    """Check ``cert`` against a CRL (DER or PEM) its issuer signed; unknown when the CRL is
    broken, from someone else, badly signed, out of date or of a scope we do not handle."""
    now = _now(now)
    try:
        blocks = _load_der_blocks(data)
        crl = x509.load_der_x509_crl(blocks[0])
    except (ValueError, IndexError):
        return unknown("CRL: malformed", now, url)
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, _CA_KEY_TYPES):
        return unknown("CRL: the CA's key type cannot sign CRLs", now, url)
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer_key):
        return unknown("CRL: not signed by the certificate's CA", now, url)
    next_update = crl.next_update_utc
    if crl.last_update_utc > now + CLOCK_SKEW:
        return unknown("CRL: dated in the future", now, url)
    if next_update is None or next_update < now - CLOCK_SKEW:
        return unknown("CRL: out of date", now, url)
    try:
        scope = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
        if scope.only_contains_ca_certs or scope.only_some_reasons or scope.indirect_crl:
            return unknown("CRL: a partial CRL (not supported)", now, url)
    except x509.ExtensionNotFound:
        pass
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return CertStatus("good", "CRL: not listed", "crl", now, next_update, url=url)
    try:
        why = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        why = None
    return CertStatus(
        "revoked",
        "CRL: listed",
        "crl",
        now,
        next_update,
        revoked_at=entry.revocation_date_utc,
        revocation_reason=why,
        url=url,
    )
