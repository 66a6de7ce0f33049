"""Revocation data, read and verified: OCSP answers and CRLs for one certificate (pure).

Nothing here touches the network (:mod:`agent.signing.certstatus` fetches). Verifying needs
only the issuing CA certificate: the leaf must verify under it (:func:`find_issuer`), an OCSP
answer must be signed by it or by a responder it issued for id-kp-OCSPSigning (RFC 6960
§4.2.2.2), a CRL must be signed by it (with cRLSign when it has a key usage).

"good" needs an answer that is authentic, about this certificate, covers it (a complete CRL of
its distribution point, not a delta or another partition) and is fresh. "revoked" needs an
authentic answer about it; a revocation is permanent (RFC 6960 §2.2), so an old one still
counts, except a hold (suspension), which can be lifted. Anything else is "unknown", never
"good". ASN.1 is cryptography's work (asn1crypto's for OCSP extensions it does not expose);
only the rules are here (a CRL's scope: :mod:`agent.signing.crl_scope`).
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
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
)

from agent.signing.crl_scope import partial_crl, unusable_crl
from agent.signing.trust import _load_der_blocks

Status = Literal["good", "revoked", "unknown"]
CLOCK_SKEW = dt.timedelta(minutes=5)
# An OCSP answer without nextUpdate means "newer information is available at any time" (RFC
# 6960 §4.2.2.1): it speaks for the moment it was signed, and a "good" captured before a
# revocation could otherwise be replayed for ever. It counts for a day after its thisUpdate, as
# in NSS (OCSP_ALLOWABLE_LAPSE_SECONDS); pyHanko allows 30 min, OpenSSL no limit unless
# -status_age. Responders that omit nextUpdate sign live, so a day still takes a cached answer
# or a PC clock some hours off, and replaying is no wider than a CA's usual 1-7 day nextUpdate.
MAX_AGE_WITHOUT_NEXT_UPDATE = dt.timedelta(hours=24)
# Reasons after which a certificate may be good again: a hold can be lifted, and removeFromCRL
# (delta CRLs) says it was.
TEMPORARY_REASONS = frozenset({"certificate_hold", "remove_from_crl"})
# OCSP extensions that may be marked critical without changing what the answer says (Kyso sends
# no nonce, so an echoed one is moot); any other critical one makes the answer unusable.
_KNOWN_OCSP_EXTENSIONS = frozenset(
    {"nonce", "extended_revoke", "crl", "archive_cutoff", "crl_reason", "invalidity_date"}
)


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
        extensions = cert.extensions
    except ValueError:  # an extension cryptography cannot parse: no address to ask (unknown)
        return ocsp_urls, crls, issuers
    try:
        aia = extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        for desc in aia:
            if desc.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp_urls += web([desc.access_location])
            elif desc.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                issuers += web([desc.access_location])
    except x509.ExtensionNotFound:
        pass
    try:
        for point in extensions.get_extension_for_class(x509.CRLDistributionPoints).value:
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
) -> tuple[Any, bool] | None:
    """The public key allowed to sign this answer: the CA's own, or a responder certificate
    the CA issued for OCSP signing (RFC 6960 §4.2.2.2), valid now; with whether its "good"
    may be believed as it is: the CA's own key, or a responder marked id-pkix-ocsp-nocheck.
    Without that mark a client must check the responder's own status (§4.2.2.2.1), which Kyso
    does not: a revoked responder's leaked key could otherwise vouch for anything."""

    def named(candidate: x509.Certificate) -> bool:
        if response.responder_name is not None:
            return response.responder_name == candidate.subject
        return response.responder_key_hash == _key_hash(candidate)

    if named(issuer):
        return issuer.public_key(), True
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
            try:
                candidate.extensions.get_extension_for_class(x509.OCSPNoCheck)
            except x509.ExtensionNotFound:
                return candidate.public_key(), False
            return candidate.public_key(), True
    return None


def read_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime | None = None,
    url: str | None = None,
) -> CertStatus:
    """Verify an OCSP answer for ``cert`` and say what it means (unknown when it cannot be
    trusted: malformed, not successful, wrong signer, bad signature, a critical extension Kyso
    does not know, another cert; and, unless it says revoked for good, stale: past nextUpdate
    or, without one, older than :data:`MAX_AGE_WITHOUT_NEXT_UPDATE`)."""
    now = _now(now)
    try:
        return _read_ocsp(der, cert, issuer, now, url)
    except (ValueError, TypeError, KeyError, UnsupportedAlgorithm) as exc:
        # cryptography reads an answer's parts lazily: an algorithm or a field it cannot read
        # (anyone on the plain-http path can send one) is no answer, never an error.
        return unknown(f"OCSP: unreadable answer ({type(exc).__name__})", now, url)


def _read_ocsp(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime, url: str | None
) -> CertStatus:
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return unknown("OCSP: malformed answer", now, url)
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return unknown(f"OCSP: responder said {response.response_status.name}", now, url)
    signer = _responder_key(response, issuer, now)
    if signer is None:
        return unknown("OCSP: answer not signed by the CA or its responder", now, url)
    key, good_believed = signer
    if not _verify_signature(
        key, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        return unknown("OCSP: bad signature on the answer", now, url)
    if _unknown_critical_ocsp_extension(der):
        return unknown("OCSP: a critical extension Kyso does not know", now, url)
    mine = [single for single in response.responses if _is_about(single, cert, issuer)]
    if not mine:
        return unknown("OCSP: the answer is about another certificate", now, url)
    # Every answer about this certificate must agree: revoked wins, any doubt is unknown.
    results = [_read_single(single, now, url) for single in mine]
    for wanted in ("revoked", "unknown"):
        for result in results:
            if result.status == wanted:
                return result  # a revocation is believed from any responder the CA named
    if not good_believed:
        return unknown(
            "OCSP: a 'good' from a delegated responder without id-pkix-ocsp-nocheck, whose own "
            "revocation is not checked",
            now,
            url,
        )
    return results[0]


def _is_about(
    single: ocsp.OCSPSingleResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    expected = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, single.hash_algorithm)
    request = expected.build()
    return (
        single.serial_number == cert.serial_number
        and single.issuer_key_hash == request.issuer_key_hash
        and single.issuer_name_hash == request.issuer_name_hash
    )


def _read_single(single: ocsp.OCSPSingleResponse, now: dt.datetime, url: str | None) -> CertStatus:
    """What one verified SingleResponse about this certificate says."""
    state = single.certificate_status
    next_update = single.next_update_utc
    if state == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason
        revoked = CertStatus(
            "revoked",
            "OCSP: revoked",
            "ocsp",
            now,
            next_update,
            revoked_at=single.revocation_time_utc,
            revocation_reason=reason.name if reason else None,
            url=url,
        )
        if revoked.revocation_reason not in TEMPORARY_REASONS:
            return revoked  # permanent: however old the answer, it stays true
    this_update = single.this_update_utc
    if this_update > now + CLOCK_SKEW:
        return unknown("OCSP: answer dated in the future", now, url)
    if next_update is None:
        if this_update < now - MAX_AGE_WITHOUT_NEXT_UPDATE:
            return unknown("OCSP: answer without nextUpdate, more than a day old", now, url)
    elif next_update < now - CLOCK_SKEW:
        return unknown("OCSP: answer out of date", now, url)
    if state == ocsp.OCSPCertStatus.GOOD:
        return CertStatus("good", "OCSP: good", "ocsp", now, next_update, url=url)
    if state == ocsp.OCSPCertStatus.REVOKED:
        return revoked  # on hold, and the answer is fresh
    return unknown("OCSP: the responder does not know this certificate", now, url)


def _unknown_critical_ocsp_extension(der: bytes) -> bool:
    """True when the answer or one of its SingleResponses carries a critical extension Kyso does
    not know (RFC 6960 §4.4), or cannot be read to tell. cryptography shows no extensions of a
    SingleResponse in a many-certificate answer; asn1crypto does."""
    from asn1crypto import ocsp as asn1_ocsp

    try:
        data = asn1_ocsp.OCSPResponse.load(der).basic_ocsp_response["tbs_response_data"]
        groups = [data["response_extensions"]]
        groups += [single["single_extensions"] for single in data["responses"]]
        for extensions in groups:
            for extension in extensions or ():
                if extension["critical"].native and (
                    extension["extn_id"].native not in _KNOWN_OCSP_EXTENSIONS
                ):
                    return True
    except (ValueError, TypeError, KeyError):
        return True
    return False


def read_crl(
    data: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: dt.datetime | None = None,
    url: str | None = None,
) -> CertStatus:
    """Check ``cert`` against a CRL (DER or PEM) its issuer signed. Listed: revoked (a hold only
    while the CRL is current). Not listed: good only when the CRL is current and complete for
    the certificate's distribution point; unknown when it is broken, from someone else, badly
    signed, out of date, partial (a delta CRL, another partition, some reasons only) or not
    usable (a critical extension Kyso does not know, an indirect CRL, another kind of
    certificate)."""
    now = _now(now)
    try:
        blocks = _load_der_blocks(data)
        crl = x509.load_der_x509_crl(blocks[0])
    except (ValueError, IndexError):
        return unknown("CRL: malformed", now, url)
    forged = _not_from_the_ca(crl, issuer)
    if forged:
        return unknown(f"CRL: {forged}", now, url)
    try:
        extensions = crl.extensions
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        entry_extensions = list(entry.extensions) if entry is not None else []
        # The scope is judged here, where a malformed extension (CRL or certificate) can say so.
        unusable = unusable_crl(extensions, entry_extensions, cert)
        partial = partial_crl(extensions, cert, issuer)
    except ValueError:
        return unknown("CRL: malformed extensions (CRL or certificate)", now, url)
    if unusable:
        return unknown(f"CRL: {unusable} (not used)", now, url)
    next_update = crl.next_update_utc
    if entry is not None:
        why = next(
            (e.value.reason.name for e in entry_extensions if isinstance(e.value, x509.CRLReason)),
            None,
        )
        if why == "remove_from_crl":  # only deltas may say so, and Kyso merges none
            return unknown("CRL: the entry says removeFromCRL", now, url)
        revoked = CertStatus(
            "revoked",
            "CRL: listed",
            "crl",
            now,
            next_update,
            revoked_at=entry.revocation_date_utc,
            revocation_reason=why,
            url=url,
        )
        if why not in TEMPORARY_REASONS:
            # The CA's own signed list names this serial, unique under this CA (RFC 5280
            # §4.1.2.2): revoked, whatever the CRL's dates or partition.
            return revoked
    if crl.last_update_utc > now + CLOCK_SKEW:
        return unknown("CRL: dated in the future", now, url)
    if next_update is None or next_update < now - CLOCK_SKEW:
        return unknown("CRL: out of date", now, url)
    if entry is not None:
        return revoked  # on hold, and the CRL is current
    if partial:
        return unknown(f"CRL: {partial}; not being listed there proves nothing", now, url)
    return CertStatus("good", "CRL: not listed", "crl", now, next_update, url=url)


def _not_from_the_ca(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str | None:
    """Why this CRL is not the certificate's CA's own (name, signature, cRLSign), or None."""
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, _CA_KEY_TYPES):
        return "the CA's key type cannot sign CRLs"
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer_key):
        return "not signed by the certificate's CA"
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        return "the CA's key usage cannot be read"
    # RFC 5280 §6.3.3 (f): a CA key that may not sign CRLs does not vouch for this one.
    return None if usage.crl_sign else "the CA's certificate is not for signing CRLs"
