"""CMS / PKCS#7 SignedData: detached or attached, over data or a precomputed hash.

Built with pyHanko's CMS machinery (``pyhanko.sign.signers.pdf_cms.Signer``) whose only
cryptographic step, ``async_sign_raw``, is delegated to Kyso's :class:`Signer` (so the token
signs). Signed attributes: content type, message digest, signing time, signing-certificate-v2
(RFC 5035) and CMS algorithm protection (RFC 6211). Verification checks the signature and the
message digest with pyHanko; every signature timestamp (CAdES-T, unsigned attribute
id-aa-signatureTimeStampToken): the token's own signature (pyHanko), its message imprint
against the signature value, and the authority's certificate (chain, revocation and
id-kp-timeStamping) at the token's time (:mod:`agent.signing.timestamps`); then the signer's
certificate with :mod:`agent.signing.trust` at the earliest timestamp's time, else now. The
signingTime attribute is the signer's claim: reported, never the validation time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.general import (
    CMSExtractionError,
    CMSStructuralError,
    SignedDataCerts,
    ValueErrorWithMessage,
    extract_certificate_info,
    extract_signer_info,
)
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_cms import Signer as PyHankoSigner
from pyhanko.sign.validation import errors as pyhanko_errors
from pyhanko.sign.validation.generic_cms import (
    extract_self_reported_ts,
    message_imprint_checker,
    validate_sig_integrity,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agent.errors import KysoError, invalid_input
from agent.signing.signer import Signer
from agent.signing.timestamps import (
    TokenRefused,
    ValidationSource,
    open_token,
    validate_authority,
    validate_signer,
    validation_time,
)
from agent.signing.trust import TrustStore
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm, check_digest
from agent.tokens.certinfo import CertificateInfo

HASH_NAMES = ("sha256", "sha384", "sha512", "sha1")
# Digest algorithms refused on verification: collisions are practical.
_BROKEN_DIGESTS = frozenset({"md2", "md5"})
# A signing time this far in the future is not a clock skew but a lie.
_FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def signature_mechanism(algorithm: SignatureAlgorithm) -> algos.SignedDigestAlgorithm:
    """The CMS signatureAlgorithm identifier for one of our algorithms (asn1crypto objects)."""
    h = algorithm.hash_name
    if algorithm.key_kind is KeyKind.EC:
        return algos.SignedDigestAlgorithm({"algorithm": f"{h}_ecdsa"})
    if not algorithm.is_pss:
        return algos.SignedDigestAlgorithm({"algorithm": f"{h}_rsa"})
    # The token's PSS uses MGF1 with the same hash and a salt as long as the digest.
    params = algos.RSASSAPSSParams(
        {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": h}),
            "mask_gen_algorithm": algos.MaskGenAlgorithm(
                {"algorithm": "mgf1", "parameters": algos.DigestAlgorithm({"algorithm": h})}
            ),
            "salt_length": algorithm.digest_size,
        }
    )
    return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})


class DelegatingCmsSigner(PyHankoSigner):
    """pyHanko's CMS builder with the raw signature produced by a Kyso Signer."""

    def __init__(
        self, signer: Signer, algorithm: SignatureAlgorithm, extra_certs: tuple[bytes, ...]
    ) -> None:
        cert = asn1_x509.Certificate.load(signer.certificate.der)
        registry = SimpleCertificateStore()
        # The signer's issuing CAs always go in (a verifier trusting only the root needs them),
        # then any the caller adds; pyHanko leaves self-signed roots out (embed_roots=False).
        wanted = dict.fromkeys((*signer.chain, *extra_certs))
        registry.register_multiple([asn1_x509.Certificate.load(der) for der in wanted])
        super().__init__(
            signing_cert=cert,
            cert_registry=registry,
            signature_mechanism=signature_mechanism(algorithm),
            embed_roots=False,
        )
        self._kyso_signer = signer
        self._algorithm = algorithm

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign the DER of the signed attributes with the token (ECDSA comes back DER).

        A dry run (PDF signing sizes its placeholder with one) gets zeros as long as the
        longest signature the key can make, without touching the token."""
        if dry_run:
            return bytes(_max_signature_size(self._kyso_signer.certificate))
        return await self._kyso_signer.sign(data, self._algorithm)


def _max_signature_size(cert: CertificateInfo) -> int:
    public_key = cert.certificate.public_key()
    key_size = int(getattr(public_key, "key_size", 0)) or 4096
    if cert.key_type == "EC":  # DER SEQUENCE of two INTEGERs, each up to one byte longer
        return 2 * ((key_size + 7) // 8 + 3) + 3
    return (key_size + 7) // 8


def _choose_algorithm(
    signer: Signer, hash_name: str, algorithm: SignatureAlgorithm | None
) -> SignatureAlgorithm:
    if hash_name not in HASH_NAMES:
        raise invalid_input(
            f"unsupported hash {hash_name!r}", f"hàm băm {hash_name!r} không được hỗ trợ"
        )
    if algorithm is None:
        return signer.default_algorithm(hash_name)
    if algorithm.key_kind.value != signer.certificate.key_type:
        raise invalid_input(
            f"{algorithm.value} does not fit a {signer.certificate.key_type} key",
            f"thuật toán {algorithm.value} không phù hợp với khóa {signer.certificate.key_type}",
        )
    if algorithm.hash_name != hash_name:
        raise invalid_input(
            f"{algorithm.value} hashes with {algorithm.hash_name}, not {hash_name}",
            f"thuật toán {algorithm.value} dùng hàm băm {algorithm.hash_name}, không phải "
            f"{hash_name}",
        )
    return algorithm


async def sign_cms(
    signer: Signer,
    *,
    data: bytes | None = None,
    digest: bytes | None = None,
    detached: bool = True,
    hash_name: str = "sha256",
    algorithm: SignatureAlgorithm | None = None,
    signing_time: dt.datetime | None = None,
    extra_certs: tuple[bytes, ...] = (),
    timestamp_url: str | None = None,
) -> bytes:
    """Make a CMS SignedData (DER) over ``data`` or over a precomputed ``digest`` of it.

    Exactly one of ``data`` and ``digest`` is given. A digest (made with ``hash_name``) can only
    give a detached signature, since the content is not at hand. ``algorithm`` picks e.g.
    RSA-PSS; by default PKCS#1 v1.5 for RSA keys and ECDSA for EC keys. ``extra_certs`` (DER)
    are embedded next to the signer's certificate, e.g. the issuing CA, to help verifiers.
    With ``timestamp_url`` (an RFC 3161 authority) the signature gets a signature-timestamp
    unsigned attribute (CAdES-T); TIMESTAMP_UNAVAILABLE when the authority does not answer.
    """
    if (data is None) == (digest is None):
        raise invalid_input(
            "give either the data or its digest",
            "hãy đưa dữ liệu hoặc mã băm của nó, chỉ một trong hai",
        )
    chosen = _choose_algorithm(signer, hash_name, algorithm)
    pyhanko_signer = DelegatingCmsSigner(signer, chosen, tuple(extra_certs))
    attrs = PdfCMSSignedAttributes(signing_time=signing_time or dt.datetime.now(dt.UTC))
    timestamper = None
    if timestamp_url:
        from agent.signing.tsa import CheckedTimeStamper

        timestamper = CheckedTimeStamper(timestamp_url)
    try:
        content_info = await _sign_content(
            pyhanko_signer, chosen, data, digest, detached, hash_name, attrs, timestamper
        )
    except OSError as exc:  # pyHanko's TimestampRequestError is an IOError
        raise KysoError("TIMESTAMP_UNAVAILABLE", {"url": timestamp_url or ""}) from exc
    return content_info.dump()


async def _sign_content(
    pyhanko_signer: DelegatingCmsSigner,
    chosen: SignatureAlgorithm,
    data: bytes | None,
    digest: bytes | None,
    detached: bool,
    hash_name: str,
    attrs: PdfCMSSignedAttributes,
    timestamper: Any,
) -> cms.ContentInfo:
    if data is not None:
        return await pyhanko_signer.async_sign_general_data(
            data, hash_name, detached=detached, signed_attr_settings=attrs, timestamper=timestamper
        )
    assert digest is not None
    if not detached:
        raise invalid_input(
            "an attached signature needs the data itself, not its digest",
            "chữ ký đính kèm dữ liệu (attached) cần chính dữ liệu, không phải mã băm của nó",
        )
    check_digest(chosen, digest)
    return await pyhanko_signer.async_sign(
        digest, hash_name, is_pdf_sig=False, signed_attr_settings=attrs, timestamper=timestamper
    )


@dataclass(frozen=True)
class CmsTimestamp:
    """A checked signature timestamp: the authority saw the signature value at ``gen_time``."""

    gen_time: dt.datetime
    authority: CertificateInfo  # the TSA's certificate, validated at gen_time
    tsa_name: str  # the TSTInfo's tsa name when it gives one, else the certificate subject
    hash_name: str  # of the message imprint
    serial_number: int
    policy: str

    def to_json(self) -> dict[str, Any]:
        """The timestamp in ``verify-cms --json``."""
        return {
            "time": self.gen_time.isoformat(),
            "authority": self.authority.subject_display,
            "authority_certificate": self.authority.thumbprint,
            "tsa_name": self.tsa_name,
            "imprint_hash": self.hash_name,
            "serial_number": self.serial_number,
            "policy": self.policy,
        }


@dataclass(frozen=True)
class CmsVerification:
    """What a verified CMS signature says."""

    signer: CertificateInfo
    signing_time: dt.datetime | None  # the signer's claim (signingTime attribute)
    detached: bool
    content: bytes | None  # the signed content when attached
    digest_algorithm: str
    signature_algorithm: str
    timestamps: tuple[CmsTimestamp, ...] = ()  # every signature timestamp, all checked
    # When the signer's certificate was judged: the earliest timestamp's genTime, else the
    # moment of verification (never the claimed signing_time).
    validated_at: dt.datetime | None = None
    validated_at_source: ValidationSource = "now"


def _load_signed_data(cms_der: bytes) -> cms.SignedData:
    try:
        info = cms.ContentInfo.load(cms_der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"content type is {info['content_type'].native}, not signed data")
        signed_data = info["content"]
        _parse_all(signed_data)
    except (ValueError, TypeError, KeyError) as exc:
        raise KysoError("CMS_INVALID", {"detail": str(exc) or type(exc).__name__}) from exc
    return signed_data


# SignerInfo fields parsed up front; the unsigned attributes (timestamp tokens) are parsed by
# their own checks: ``.native`` of a token, with pyHanko's attribute types registered, took
# seconds for a 5 KB file (asn1crypto re-encodes its algorithm identifiers over and over).
_SIGNER_FIELDS = (
    "version",
    "sid",
    "digest_algorithm",
    "signed_attrs",
    "signature_algorithm",
    "signature",
)


# How many items a signature may carry in each list, counted on the bytes before anything is
# parsed: 500,000 signed attributes (a 6 MB file) took 52 s and 1.9 GB to be found invalid,
# 20,000 copies of a certificate 22 s (red team 43). Real ones carry a handful of each.
_MOST_ITEMS = {
    "digest_algorithms": (16, "digest algorithms"),
    "certificates": (100, "certificates"),
    "crls": (100, "CRLs"),
    "signer_infos": (16, "signers"),
    "signed_attrs": (64, "signed attributes"),
    "unsigned_attrs": (64, "unsigned attributes"),
}


def _count_der_items(contents: bytes | None, most: int) -> int:
    """How many DER elements ``contents`` holds, counting no further than ``most`` + 1 (their
    headers only: nothing is decoded). Raises ValueError on a header that runs past the end."""
    count = pointer = 0
    end = len(contents or b"")
    data = contents or b""
    while pointer < end and count <= most:
        tag = data[pointer]
        pointer += 1
        if tag & 0x1F == 0x1F:  # high tag number: continues while the top bit is set
            while pointer < end and data[pointer] & 0x80:
                pointer += 1
            pointer += 1
        if pointer >= end:
            raise ValueError("a truncated element header")
        length = data[pointer]
        pointer += 1
        if length & 0x80:
            size = length & 0x7F
            if size == 0 or size > 4 or pointer + size > end:
                raise ValueError("an element length that is not DER")
            length = int.from_bytes(data[pointer : pointer + size], "big")
            pointer += size
        pointer += length
        if pointer > end:
            raise ValueError("an element longer than its container")
        count += 1
    return count


def refuse_crowds(signed_data: cms.SignedData) -> None:
    """ValueError (CMS_INVALID for the caller) for a list longer than :data:`_MOST_ITEMS`
    allows, found on the bytes before anything is parsed."""
    for name in ("digest_algorithms", "certificates", "crls", "signer_infos"):
        _check_count(name, signed_data[name])
    for signer in signed_data["signer_infos"]:  # a few, checked just above
        _check_count("signed_attrs", signer["signed_attrs"])
        _check_count("unsigned_attrs", signer["unsigned_attrs"])


def _check_count(name: str, value: Any) -> None:
    if value is None or isinstance(value, core.Void):
        return
    most, words = _MOST_ITEMS[name]
    if _count_der_items(value.contents, most) > most:
        raise ValueError(f"more than {most} {words}")


def _parse_all(signed_data: cms.SignedData) -> None:
    """Parse every part Kyso reads now, so broken input fails here (CMS_INVALID)."""
    refuse_crowds(signed_data)
    for name in ("version", "digest_algorithms", "encap_content_info", "certificates", "crls"):
        signed_data[name].native  # noqa: B018
    for signer in signed_data["signer_infos"]:
        for name in _SIGNER_FIELDS:
            signer[name].native  # noqa: B018
        for attribute in signer["unsigned_attrs"] or ():
            attribute["type"].native  # noqa: B018 - the values: by their own checks


def _signer_parts(signed_data: cms.SignedData) -> tuple[cms.SignerInfo, SignedDataCerts]:
    try:
        signer_info = extract_signer_info(signed_data)
        certs = extract_certificate_info(signed_data)
    except CMSExtractionError as exc:
        raise KysoError("CMS_INVALID", {"detail": exc.failure_message}) from exc
    return signer_info, certs


def verify_cms(
    cms_der: bytes,
    trust: TrustStore,
    *,
    data: bytes | None = None,
    digest: bytes | None = None,
) -> CmsVerification:
    """Verify a CMS signature and its signer's certificate.

    For a detached signature give the signed ``data`` (or its ``digest`` made with the
    signature's digest algorithm); for an attached one the content is inside, and ``data``, if
    given, must equal it. SHA-1 digests are accepted only when ``trust.allow_sha1``. Every
    signature timestamp present must hold (see :func:`_check_timestamp`); the signer
    certificate is then validated by :func:`agent.signing.timestamps.validate_signer` at the
    earliest timestamp's genTime (its proof of existence), else now: the signingTime attribute
    is only the signer's claim, so a backdated one cannot hide a revocation or an expiry.
    Raises KysoError: CMS_INVALID, CMS_DATA_MISSING, SIGNATURE_INVALID, TIMESTAMP_INVALID or a
    CERT_*/CRL_* code (with ``timestamp_authority`` in the details when it is about a
    timestamp authority, with ``validated_at`` and the claimed ``signing_time`` when it is
    about the signer).
    """
    signed_data = _load_signed_data(cms_der)
    signer_info, certs = _signer_parts(signed_data)
    if len(signed_data["signer_infos"]) != 1:
        raise KysoError("CMS_INVALID", {"detail": "exactly one signer is supported"})
    md_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if _hash_refused(md_algorithm, trust):
        raise KysoError("CMS_INVALID", {"detail": f"digest algorithm {md_algorithm} refused"})
    eci = signed_data["encap_content_info"]
    content = None if eci["content"] is core.VOID else bytes(eci["content"])
    if content is not None:
        if data is not None and data != content:
            raise KysoError("SIGNATURE_INVALID", {"detail": "the given data is not the content"})
        actual = hashlib.new(md_algorithm, content).digest()
    elif data is not None:
        actual = hashlib.new(md_algorithm, data).digest()
    elif digest is not None:
        actual = digest
    else:
        raise KysoError("CMS_DATA_MISSING")
    try:
        intact, valid = validate_sig_integrity(
            signer_info, certs.signer_cert, eci["content_type"].native, actual
        )
    except (
        pyhanko_errors.SignatureValidationError,
        CMSStructuralError,
        ValueErrorWithMessage,
    ) as exc:
        raise KysoError("SIGNATURE_INVALID", {"detail": exc.failure_message}) from exc
    if not valid:
        raise KysoError("SIGNATURE_INVALID", {"detail": "signature does not verify"})
    if not intact:
        raise KysoError("SIGNATURE_INVALID", {"detail": "message digest differs"})
    signing_time = extract_self_reported_ts(signer_info)
    if signing_time is not None and signing_time > dt.datetime.now(dt.UTC) + _FUTURE_TOLERANCE:
        raise KysoError("CMS_INVALID", {"detail": f"signing time {signing_time} is in the future"})
    # The timestamps first: the earliest one's time is when the signer's certificate counts.
    try:
        tokens = _timestamp_tokens(signer_info)
    except ValueError as exc:
        raise KysoError("CMS_INVALID", {"detail": str(exc)}) from exc
    timestamps = tuple(_check_timestamp(token, signer_info, trust) for token in tokens)
    when = validation_time(t.gen_time for t in timestamps)
    info = validate_signer(
        certs.signer_cert.dump(),
        trust,
        when,
        signing_time=signing_time,
        extra_certs=[c.dump() for c in certs.other_certs],
    )
    return CmsVerification(
        signer=info,
        signing_time=signing_time,
        detached=content is None,
        content=content,
        digest_algorithm=md_algorithm,
        signature_algorithm=signer_info["signature_algorithm"]["algorithm"].native,
        timestamps=timestamps,
        validated_at=when.at,
        validated_at_source=when.source,
    )


MOST_TIMESTAMP_TOKENS = 4  # a signature carries one, an archive a few


def _timestamp_tokens(signer_info: cms.SignerInfo) -> list[cms.ContentInfo]:
    """Every signature-timestamp token (all values of all such unsigned attributes), each
    token's own lists counted first (:func:`refuse_crowds`): unsigned attributes lie outside
    the signature, so anyone can pad a genuine file with tokens, or a token with certificates
    (review 42). ValueError (CMS_INVALID) past :data:`MOST_TIMESTAMP_TOKENS` or a crowd."""
    unsigned = signer_info["unsigned_attrs"]
    if isinstance(unsigned, core.Void):
        return []
    tokens: list[cms.ContentInfo] = []
    for attr in unsigned:
        if attr["type"].native != "signature_time_stamp_token":
            continue
        if _count_der_items(attr["values"].contents, MOST_TIMESTAMP_TOKENS) + len(tokens) > (
            MOST_TIMESTAMP_TOKENS
        ):
            raise ValueError(f"more than {MOST_TIMESTAMP_TOKENS} signature timestamps")
        for value in attr["values"]:
            refuse_crowds(value["content"])
            tokens.append(value)
    return tokens


def _hash_refused(name: str, trust: TrustStore) -> bool:
    broken = name in _BROKEN_DIGESTS or (name == "sha1" and not trust.allow_sha1)
    return broken or name not in hashlib.algorithms_available


def _check_timestamp(
    token: cms.ContentInfo, signed: cms.SignerInfo, trust: TrustStore
) -> CmsTimestamp:
    """One signature timestamp, checked as pyHanko's ``validate_tst_signed_data`` does
    (:func:`agent.signing.timestamps.open_token`): the token's CMS signature over its TSTInfo,
    the message imprint = hash of ``signed``'s signature value, a genTime not in the future,
    and the authority's certificate (chain and revocation by ``trust`` at the token's genTime,
    extended key usage id-kp-timeStamping). Kyso's own checks rather than pyHanko's status
    object, so each failure keeps its stable code: CMS_INVALID for a token that cannot be read
    or uses a refused hash, TIMESTAMP_INVALID for one that does not hold."""
    try:
        opened = open_token(
            token,
            message_imprint_checker(signed),
            digest_allowed=lambda name: not _hash_refused(name, trust),
            imprint_allowed=lambda name: not _hash_refused(name, trust),
        )
    except TokenRefused as exc:
        if exc.fault == "malformed":
            detail = f"signature timestamp: {exc.detail}"
            raise KysoError("CMS_INVALID", {"detail": detail}) from exc
        if exc.fault == "hash":
            detail = f"signature timestamp: {exc.detail} refused"
            raise KysoError("CMS_INVALID", {"detail": detail}) from exc
        raise KysoError("TIMESTAMP_INVALID", {"detail": exc.detail}) from exc
    authority = validate_authority(
        opened.certificate, opened.other_certificates, opened.gen_time, opened.tsa_name, trust
    )
    return CmsTimestamp(
        gen_time=opened.gen_time,
        authority=authority,
        tsa_name=opened.tsa_name,
        hash_name=opened.hash_name,
        serial_number=opened.serial_number,
        policy=opened.policy,
    )
