"""RFC 3161 signature timestamps, and the time a signer's certificate is judged at.

One place for what the CMS verifier (CAdES-T, :mod:`agent.signing.cms`) and the XML verifier
(the XAdES SignatureTimeStamp, :mod:`agent.signing.xml.xades`) share:

- :func:`open_token`: a token's structure, its own CMS signature (pyHanko's integrity check),
  the message imprint against what the verifier says was stamped, and a genTime that is not in
  the future. Each verifier turns a :class:`TokenRefused` into its own stable code.
- :func:`validate_authority`: the authority's certificate, trusted at the token's genTime.
- :func:`validation_time` and :func:`validate_signer`: the signer's certificate is judged at a
  *proof of existence* (ETSI EN 319 102-1; pyHanko does the same): the genTime of the earliest
  valid signature timestamp, else now. The signing time a signature states is only the
  signer's claim: whoever holds the key of a revoked certificate can write any date there, so
  it is reported, never used as the validation time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agent.errors import KysoError

if TYPE_CHECKING:
    from agent.signing.trust import TrustStore
    from agent.tokens.certinfo import CertificateInfo

# A genTime this far ahead of our clock is not a skew but a wrong or lying authority.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)

TokenFault = Literal["malformed", "hash", "unsound", "imprint", "future"]


class TokenRefused(Exception):
    """A timestamp token Kyso does not accept. ``fault`` says which check failed (malformed
    structure, a refused hash, its own signature broken, an imprint of something else, a
    genTime in the future); each verifier maps it to its own stable error code."""

    def __init__(self, fault: TokenFault, detail: str) -> None:
        super().__init__(detail)
        self.fault: TokenFault = fault
        self.detail = detail


@dataclass(frozen=True)
class TimestampToken:
    """A token whose own signature holds and whose imprint is the expected one (the
    authority's certificate is not judged yet: :func:`validate_authority`)."""

    gen_time: dt.datetime  # UTC
    tsa_name: str  # TSTInfo's tsa name, else the signing certificate's subject
    certificate: bytes  # DER of the certificate that signed the token
    other_certificates: tuple[bytes, ...]  # the rest of the token's certificates (its chain)
    hash_name: str  # of the message imprint
    policy: str
    serial_number: int


def tsa_name(tst_info: Any, certificate: Any) -> str:
    """Who stamped: the TSTInfo's ``tsa`` when it is a directory name, else the subject of the
    certificate that signed the token (both asn1crypto objects)."""
    tsa = tst_info["tsa"]
    if tsa.native is not None and tsa.name == "directory_name":
        return str(tsa.chosen.human_friendly)
    return str(certificate.subject.human_friendly)


def open_token(
    token: bytes | Any,
    stamped: Callable[[str], bytes],
    *,
    digest_allowed: Callable[[str], bool],
    imprint_allowed: Callable[[str], bool],
    future_tolerance: dt.timedelta = FUTURE_TOLERANCE,
) -> TimestampToken:
    """Open and check one RFC 3161 token (DER, or an asn1crypto ``ContentInfo``).

    ``stamped(hash_name)`` is the digest the token must carry as its message imprint (the
    hash of what it stamps, computed by the caller with the imprint's hash). The token's own
    digest algorithm must pass ``digest_allowed`` and the imprint's ``imprint_allowed``.
    Raises :class:`TokenRefused`."""
    from asn1crypto import cms
    from pyhanko.sign.general import extract_certificate_info, extract_signer_info
    from pyhanko.sign.validation.generic_cms import (
        extract_certs_for_validation,
        validate_sig_integrity,
    )

    try:
        info = cms.ContentInfo.load(token) if isinstance(token, bytes) else token
        if info["content_type"].native != "signed_data":
            raise ValueError("not a SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("it does not hold a TSTInfo")
        tst_info = encap["content"].parsed
        imprint = tst_info["message_imprint"]
        hash_name = imprint["hash_algorithm"]["algorithm"].native
        gen_time = tst_info["gen_time"].native
        if not isinstance(gen_time, dt.datetime) or gen_time.tzinfo is None:
            raise ValueError("its time has no time zone")  # GeneralizedTime without "Z"
        signer_info = extract_signer_info(signed)
        certs = extract_certificate_info(signed)
        token_md = signer_info["digest_algorithm"]["algorithm"].native
        name = tsa_name(tst_info, certs.signer_cert)
        facts = (str(tst_info["policy"].native), int(tst_info["serial_number"].native))
    # A token is whatever its sender wrote (a plain-http path to the authority, a file):
    # asn1crypto and pyHanko raise ValueErrors mostly, but AttributeError, TypeError or a
    # UnicodeDecodeError from a hostile one too. Each is a refused token, never a traceback.
    except Exception as exc:
        raise TokenRefused("malformed", getattr(exc, "failure_message", None) or str(exc)) from exc
    if not digest_allowed(token_md):
        raise TokenRefused("hash", token_md)
    if not imprint_allowed(hash_name):
        raise TokenRefused("hash", hash_name)
    try:
        # ETSI EN 319 102-1 §5.2.3.4: the certificate the token names (ESS signing-certificate)
        # is the one that signed it.
        extract_certs_for_validation(signed)
        intact, valid = validate_sig_integrity(
            signer_info,
            certs.signer_cert,
            "tst_info",
            hashlib.new(token_md, bytes(encap["content"])).digest(),
        )
    except Exception as exc:  # a key cryptography cannot load (GOST...), a mismatched algorithm
        raise TokenRefused("unsound", getattr(exc, "failure_message", None) or str(exc)) from exc
    if not (intact and valid):
        raise TokenRefused("unsound", "the token's own signature does not verify")
    if not hmac.compare_digest(stamped(hash_name), imprint["hashed_message"].native):
        raise TokenRefused("imprint", "it was not made over this signature value")
    if gen_time > dt.datetime.now(dt.UTC) + future_tolerance:
        raise TokenRefused("future", f"its time {gen_time} is in the future")
    return TimestampToken(
        gen_time=gen_time.astimezone(dt.UTC),
        tsa_name=name,
        certificate=certs.signer_cert.dump(),
        other_certificates=tuple(c.dump() for c in certs.other_certs),
        hash_name=hash_name,
        policy=facts[0],
        serial_number=facts[1],
    )


def validate_authority(
    certificate: bytes,
    other_certificates: Sequence[bytes],
    gen_time: dt.datetime,
    name: str,
    trust: TrustStore,
) -> CertificateInfo:
    """The authority's certificate (DER) must chain to ``trust`` at the token's ``gen_time``,
    with the CRLs it holds, and be a timestamping certificate (extended key usage
    id-kp-timeStamping, critical: RFC 3161 §2.3). Raises the CERT_* / CRL_* codes with
    ``timestamp_authority`` (``name``) in their details; returns the parsed certificate."""
    from asn1crypto import x509 as asn1_x509

    from agent.signing.trust import validate_certificate

    try:
        info = validate_certificate(
            certificate, trust, at=gen_time, extra_certs=other_certificates, purpose="timestamp"
        )
        usage = asn1_x509.Certificate.load(certificate).extended_key_usage_value
        if not is_timestamping_certificate(certificate):
            raise KysoError(
                "CERT_KEY_USAGE",
                {
                    "purpose": "timestamp",
                    "extended_key_usage": ",".join(usage.native if usage else []),
                },
            )
    except KysoError as exc:
        raise KysoError(exc.code, {**exc.details, "timestamp_authority": name}) from exc
    return info


def is_timestamping_certificate(certificate: bytes) -> bool:
    """Whether a certificate (DER) has the extended key usage id-kp-timeStamping and no other
    purpose, marked critical, as RFC 3161 §2.3 requires of a timestamp authority's (OpenSSL's
    check_purpose_timestamp_sign, behind ``openssl ts -verify``, requires the same)."""
    from asn1crypto import x509 as asn1_x509

    try:
        cert = asn1_x509.Certificate.load(certificate)
        for extension in cert["tbs_certificate"]["extensions"]:
            if extension["extn_id"].native == "extended_key_usage":
                usage = extension["extn_value"].parsed.native
                return bool(extension["critical"].native) and list(usage) == ["time_stamping"]
    except Exception:  # an extension that does not parse: not a timestamp authority's
        return False
    return False


# --- the validation time ---------------------------------------------------------------------

ValidationSource = Literal["timestamp", "now", "given"]

_SOURCE_TEXT: dict[str, tuple[str, str]] = {
    "timestamp": (
        "thời điểm của dấu thời gian (bằng chứng chữ ký đã có lúc đó)",
        "the signature timestamp's time (proof the signature existed then)",
    ),
    "now": (
        "bây giờ: không có dấu thời gian nào chứng minh chữ ký có từ trước",
        "now: no timestamp proves the signature is older",
    ),
    "given": ("thời điểm được yêu cầu", "the time asked for"),
}


@dataclass(frozen=True)
class ValidationTime:
    """When the signer's certificate is judged, and why that moment."""

    at: dt.datetime  # UTC
    source: ValidationSource

    @property
    def moment(self) -> dt.datetime | None:
        """What :func:`agent.signing.trust.validate_certificate` is given: None for now, so a
        revocation the CRLs list counts whatever its date."""
        return None if self.source == "now" else self.at

    @property
    def vi(self) -> str:
        """Where the time comes from, in Vietnamese."""
        return source_text(self.source)[0]

    @property
    def en(self) -> str:
        """Where the time comes from, in English."""
        return source_text(self.source)[1]


def source_text(source: str) -> tuple[str, str]:
    """Where a validation time came from (``validated_at_source``), in Vietnamese and
    English, for the verifiers' reports."""
    return _SOURCE_TEXT.get(source, (source, source))


def validation_time(
    gen_times: Iterable[dt.datetime], at: dt.datetime | None = None
) -> ValidationTime:
    """The moment to judge the signer's certificate at: ``at`` when a caller gives one (the
    portal judges a request at receipt), else the earliest genTime of the signature's valid
    timestamps (its proof of existence), else now. Never the signing time it states."""
    if at is not None:
        return ValidationTime(_utc(at), "given")
    earliest = min(gen_times, default=None)
    if earliest is not None:
        return ValidationTime(_utc(earliest), "timestamp")
    return ValidationTime(dt.datetime.now(dt.UTC), "now")


def _utc(moment: dt.datetime) -> dt.datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC)


_NOT_PROOF = {
    "CERT_REVOKED": (
        "no signature timestamp proves the signature is older than the revocation: the signing "
        "time it states is the signer's own claim, which anyone holding the key can backdate"
    ),
    "CERT_EXPIRED": (
        "no signature timestamp: the certificate is judged now; a timestamp taken while it "
        "was valid would have kept this signature valid"
    ),
    "CERT_NOT_YET_VALID": "no signature timestamp: the certificate is judged now",
}


def validate_signer(
    certificate: bytes,
    trust: TrustStore,
    when: ValidationTime,
    *,
    signing_time: dt.datetime | None,
    extra_certs: Sequence[bytes] = (),
) -> CertificateInfo:
    """The signer's certificate judged at ``when`` (chain, validity, revocation, key usage for
    signing). A failure keeps its code and says in its details when the certificate was
    judged (``validated_at``, ``validated_at_source``), the signing time the signature claims
    (``signing_time``) and that this claim is no proof (``signing_time_is_proof``: False),
    with a ``note`` when no timestamp could have shown the signature to be older."""
    from agent.signing.trust import validate_certificate

    try:
        return validate_certificate(
            certificate, trust, at=when.moment, extra_certs=extra_certs, purpose="sign"
        )
    except KysoError as exc:
        details = {
            **exc.details,
            "signing_time": signing_time.isoformat() if signing_time else None,
            "signing_time_is_proof": False,
            "validated_at": when.at.isoformat(),
            "validated_at_source": when.source,
        }
        if when.source == "now" and exc.code in _NOT_PROOF:
            details["note"] = _NOT_PROOF[exc.code]
        raise KysoError(exc.code, details) from exc
