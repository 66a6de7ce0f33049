"""Does a private key on a token belong to the certificate? Pure logic, no PKCS#11.

A token pairs a certificate with its key only by CKA_ID, and that pairing goes wrong in the
field: renewal tools leave the old key (or write the new certificate) under the same id, and
two keys under one id happen. A signature made with the wrong key is worthless (no verifier
accepts it) yet looks "signed" to the user, so the token layer proves the pairing before any
signature leaves it:

1. what each private key object under the id shows of its public half (:func:`judge`):
   CKA_PUBLIC_KEY_INFO, the RSA modulus and exponent, the key type, the EC curve. A key that
   shows another public key is dropped (refused before any signature when none is left); keys
   that show the certificate's come first. A public-key object under the same id proves nothing
   about the private key (it is another object, and may be the stale one), so it is not used
   here (a listing, which has no login, uses it to forecast a refusal: :func:`listing_mismatch`);
2. the session's first signature, verified with the certificate's public key before it is
   handed out (:func:`signature_verifies`), trying the remaining keys in turn. This settles
   what attributes cannot (an EC private key never shows its point; some tokens hide the RSA
   modulus) and costs one verification per session (tens of microseconds), not per signature.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto.core import OctetString
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.errors import KysoError
from agent.tokens.algorithms import SignatureAlgorithm, hash_algorithm
from agent.tokens.model import TokenCertificate

K = TypeVar("K")


class Verdict(enum.Enum):
    """What a key's own attributes say about the certificate."""

    MATCH = "match"
    MISMATCH = "mismatch"
    UNKNOWN = "unknown"  # the token does not show enough: the first signature must prove it


@dataclass(frozen=True)
class KeyFacts:
    """What a token shows of one private key object (None: not shown)."""

    key_type: str | None = None  # "RSA", "EC", or the name of another type
    modulus: bytes | None = None
    public_exponent: bytes | None = None
    ec_params: bytes | None = None
    public_key_info: bytes | None = None  # CKA_PUBLIC_KEY_INFO, DER SPKI; empty on many tokens
    ec_point: bytes | None = None  # CKA_EC_POINT: shown by a public key object, never a private one


def judge(cert_key: PublicKeyTypes, facts: KeyFacts) -> Verdict:
    """Whether the key described by ``facts`` is the one of ``cert_key``, as far as it shows."""
    if facts.public_key_info:
        spki = _spki_verdict(cert_key, facts.public_key_info)
        if spki is not Verdict.UNKNOWN:
            return spki
    if isinstance(cert_key, rsa.RSAPublicKey):
        return _rsa_verdict(cert_key, facts)
    if isinstance(cert_key, ec.EllipticCurvePublicKey):
        return _ec_verdict(cert_key, facts)
    return Verdict.UNKNOWN


def _spki_verdict(cert_key: PublicKeyTypes, spki: bytes) -> Verdict:
    try:
        shown = serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm):
        return Verdict.UNKNOWN  # unreadable: judge by the other attributes
    return Verdict.MATCH if _spki(shown) == _spki(cert_key) else Verdict.MISMATCH


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _rsa_verdict(cert_key: rsa.RSAPublicKey, facts: KeyFacts) -> Verdict:
    if facts.key_type not in (None, "RSA"):
        return Verdict.MISMATCH
    if not facts.modulus:
        return Verdict.UNKNOWN
    numbers = cert_key.public_numbers()
    if int.from_bytes(facts.modulus, "big") != numbers.n:
        return Verdict.MISMATCH
    if facts.public_exponent and int.from_bytes(facts.public_exponent, "big") != numbers.e:
        return Verdict.MISMATCH
    return Verdict.MATCH


def _ec_verdict(cert_key: ec.EllipticCurvePublicKey, facts: KeyFacts) -> Verdict:
    # A private EC key shows its curve but not its point: another curve is a mismatch, the same
    # curve proves nothing. A public key object shows its point too, which settles it.
    if facts.key_type not in (None, "EC"):
        return Verdict.MISMATCH
    if _curve_verdict(cert_key, facts.ec_params) is Verdict.MISMATCH:
        return Verdict.MISMATCH
    if facts.ec_point:
        return _point_verdict(cert_key, facts.ec_point)
    return Verdict.UNKNOWN


def _curve_verdict(cert_key: ec.EllipticCurvePublicKey, ec_params: bytes | None) -> Verdict:
    if not ec_params:
        return Verdict.UNKNOWN
    try:
        shown = asn1_keys.ECDomainParameters.load(ec_params)
        ours = asn1_keys.PublicKeyInfo.load(_spki(cert_key))["algorithm"]["parameters"]
        if shown.name == "named" and ours.name == "named":
            same = shown.chosen.dotted == ours.chosen.dotted
            return Verdict.UNKNOWN if same else Verdict.MISMATCH
    except ValueError:
        pass  # explicit or unreadable parameters: leave it to the signature
    return Verdict.UNKNOWN


def _point_verdict(cert_key: ec.EllipticCurvePublicKey, ec_point: bytes) -> Verdict:
    # CKA_EC_POINT is a DER OCTET STRING around the point; some tokens give the bare point.
    readings = {ec_point}
    with contextlib.suppress(ValueError):
        readings.add(bytes(OctetString.load(ec_point, strict=True)))
    ours = {
        cert_key.public_bytes(serialization.Encoding.X962, form)
        for form in (
            serialization.PublicFormat.UncompressedPoint,
            serialization.PublicFormat.CompressedPoint,
        )
    }
    if readings & ours:
        return Verdict.MATCH
    if any(reading[:1] in (b"\x02", b"\x03", b"\x04") for reading in readings):
        return Verdict.MISMATCH
    return Verdict.UNKNOWN  # not a point this code can read


def choose(cert: TokenCertificate, judged: Sequence[tuple[K, Verdict]]) -> list[K]:
    """The keys under ``cert``'s CKA_ID that may be its key, in the order the first signature
    tries them: those showing the certificate's public key, then those showing nothing that
    settles it. KEY_CERT_MISMATCH when every key shows another public key."""
    candidates = [key for key, verdict in judged if verdict is Verdict.MATCH]
    candidates += [key for key, verdict in judged if verdict is Verdict.UNKNOWN]
    if not candidates:
        raise mismatch(cert)
    return candidates


def listing_mismatch(cert_key: PublicKeyTypes, shown: Sequence[KeyFacts]) -> bool:
    """For a listing, before any login: True when there are key objects under the
    certificate's CKA_ID and every one shows a public key that is not ``cert_key``.

    What a listing sees is mostly the public key object stored with the private one (private
    keys are usually hidden until login), so this is a forecast, not the proof: signing still
    judges the private key itself. It is what lets ``kyso-agent certs`` say "does not match"
    instead of "yes" for a certificate whose signing would be refused (KEY_CERT_MISMATCH)."""
    return bool(shown) and all(judge(cert_key, facts) is Verdict.MISMATCH for facts in shown)


def mismatch(cert: TokenCertificate) -> KysoError:
    """The refusal when the token holds no key of ``cert`` under its CKA_ID."""
    return KysoError(
        "KEY_CERT_MISMATCH",
        {"subject": cert.info.subject_display, "key_id": cert.key_id.hex()},
    )


def cannot_sign(cert: TokenCertificate) -> KysoError:
    """The refusal when the only keys under ``cert``'s CKA_ID may not sign (CKA_SIGN false: a
    decryption key, or a token that keeps its signing and encryption keys under one id).
    KEY_NOT_FOUND: there is no key of this certificate Kyso may sign with, and its next step
    (another certificate, or the provider checks the token) is the right one; the reason
    travels in the details (the protocol's ``data.details``, ``--json``)."""
    return KysoError(
        "KEY_NOT_FOUND",
        {
            "detail": cert.info.subject_display,
            "key_id": cert.key_id.hex(),
            "reason": "key_may_not_sign",
            "reason_vi": "khóa bí mật trên token không được phép ký (CKA_SIGN = false)",
            "reason_en": "the private key on the token is not allowed to sign (CKA_SIGN false)",
        },
    )


def signature_verifies(
    cert_key: PublicKeyTypes,
    algorithm: SignatureAlgorithm,
    payload: bytes,
    signature: bytes,
    *,
    is_digest: bool,
) -> bool:
    """Whether ``signature`` (DER for ECDSA) over ``payload`` (the data, or its digest when
    ``is_digest``) verifies with the certificate's public key."""
    hash_alg = hash_algorithm(algorithm)
    chosen: hashes.HashAlgorithm | Prehashed = Prehashed(hash_alg) if is_digest else hash_alg
    try:
        if isinstance(cert_key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(hash_alg), algorithm.digest_size)
                if algorithm.is_pss
                else padding.PKCS1v15()
            )
            cert_key.verify(signature, payload, pad, chosen)
        elif isinstance(cert_key, ec.EllipticCurvePublicKey):
            cert_key.verify(signature, payload, ec.ECDSA(chosen))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
