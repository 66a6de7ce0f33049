"""Verifying enveloped XML-DSig signatures the way a portal's "Kiểm tra hồ sơ" does.

The signature is checked with lxml/libxml2 canonicalization and ``cryptography`` (no
hand-written canonicalization), then the signer's certificate with
:func:`agent.signing.trust.validate_certificate` at the signed SigningTime (or now). Only what
the signature covers counts: a SigningTime outside the signed references is ignored, and a
signature that does not cover the document (the whole file, or the profile's element) is
SIGNATURE_INVALID. Failures raise KysoError with stable codes (NOT_SIGNED, SIGNATURE_INVALID,
XML_SIGNATURE_UNSUPPORTED, CERT_*, XML_*).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml.c14n import (
    SUPPORTED_C14N,
    c14n_bytes,
    detached,
    digest_document,
    digest_element,
)
from agent.signing.xml.profiles import DS_NS, ENVELOPED, PROFILES, get_profile
from agent.signing.xml.safe import DEFAULT_MAX_BYTES, parse_untrusted
from agent.tokens.certinfo import CertificateInfo, parse_certificate

_DS = f"{{{DS_NS}}}"
_DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
_SIGNATURES = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("RSA", "sha1"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("RSA", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("RSA", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("RSA", "sha512"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": ("EC", "sha1"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("EC", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("EC", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("EC", "sha512"),
}
_HASH = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
VIETNAM = dt.timezone(dt.timedelta(hours=7))
_MAX_SIGNATURES = 8
_MAX_REFERENCES = 16
_MAX_CERTIFICATES = 10


@dataclass(frozen=True)
class XmlVerification:
    """A valid signature: who signed, when (as the signature claims), and what it covers."""

    signer: CertificateInfo
    signing_time: dt.datetime | None  # the signed SigningTime, None when absent/unsigned
    profile: str | None
    signature_id: str | None
    signature_method: str
    references: tuple[str, ...]
    certificate_checked: bool  # False when only the signature itself was checked

    def to_json(self) -> dict[str, Any]:
        """JSON form for the CLI and the protocol."""
        return {
            "ok": True,
            "signer": self.signer.to_json(),
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "profile": self.profile,
            "signature_id": self.signature_id,
            "signature_method": self.signature_method,
            "references": list(self.references),
            "certificate_checked": self.certificate_checked,
        }


def _invalid(detail: str) -> KysoError:
    return KysoError("SIGNATURE_INVALID", {"detail": detail})


def _unsupported(detail: str) -> KysoError:
    return KysoError("XML_SIGNATURE_UNSUPPORTED", {"detail": detail})


def _one(parent: etree._Element, path: str, what: str) -> etree._Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise _invalid(f"{len(found)} {what} elements")
    return found[0]


def _b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid(f"{what} is not base64") from exc


def _find_signatures(
    root: etree._Element, profile: str | None
) -> tuple[list[etree._Element], str | None]:
    """The Signature elements the profile says to check (every one for no profile)."""
    name = profile
    if name is None:
        local = etree.QName(root).localname
        name = next(
            (p.name for p in PROFILES.values() if any(pl.root == local for pl in p.placements)),
            None,
        )
    if name is not None and name != "generic":
        prof = get_profile(name)
        placement = prof.placement_for(root)
        holders = [
            c
            for c in root.iterchildren(etree.Element)
            if etree.QName(c).localname == placement.container
        ]
        if not holders:
            raise KysoError("NOT_SIGNED", {"detail": f"no <{placement.container}>"})
        return [s for h in holders for s in h.iterchildren(f"{_DS}Signature")], name
    return list(root.iter(f"{_DS}Signature")), name


def _resolve(root: etree._Element, uri: str) -> etree._Element | None:
    """None for the whole document, else the single element with that Id/ID/id."""
    if uri == "":
        return None
    if not uri.startswith("#") or uri.startswith("#xpointer("):
        raise _unsupported(f"reference URI {uri!r}")
    found = root.xpath("//*[@Id=$v or @ID=$v or @id=$v]", v=uri[1:])
    if len(found) != 1:
        raise _invalid(f"reference {uri} matches {len(found)} elements")
    return found[0]


def _check_reference(
    tree: etree._ElementTree, signature: etree._Element, ref: etree._Element
) -> etree._Element | None:
    """Recompute one Reference's digest; returns the element it covers (None = document)."""
    uri = ref.get("URI")
    if uri is None:
        raise _unsupported("reference without URI")
    target = _resolve(tree.getroot(), uri)
    transforms = [t.get("Algorithm") for t in ref.findall(f"{_DS}Transforms/{_DS}Transform")]
    method = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    enveloped = False
    for algorithm in transforms:
        if algorithm == ENVELOPED:
            enveloped = True
        elif algorithm in SUPPORTED_C14N:
            method = algorithm
        else:
            raise _unsupported(f"transform {algorithm}")
    digest_uri = _one(ref, f"{_DS}DigestMethod", "DigestMethod").get("Algorithm")
    if digest_uri not in _DIGESTS:
        raise _unsupported(f"digest {digest_uri}")
    expected = _b64(_one(ref, f"{_DS}DigestValue", "DigestValue").text, "DigestValue")
    # Does the referenced content contain this very signature? Then only the enveloped
    # transform can make the digest stable.
    contains_signature = target is None or target in signature.iterancestors()
    if contains_signature and not enveloped:
        raise _invalid(
            f"reference {uri or '(document)'} covers its own signature without the enveloped transform"
        )
    hash_name = _DIGESTS[digest_uri]
    with detached(signature) if contains_signature else contextlib.nullcontext():
        actual = (
            digest_document(tree, method, hash_name)
            if target is None
            else digest_element(target, method, hash_name)
        )
    if not hmac.compare_digest(actual, expected):
        raise _invalid(f"digest of {uri or 'the document'} does not match")
    return target


def _check_value(
    signed_info: etree._Element, method: str, value: bytes, cert: x509.Certificate
) -> bool:
    kind, hash_name = _SIGNATURES[method]
    c14n_method = _one(signed_info, f"{_DS}CanonicalizationMethod", "CanonicalizationMethod").get(
        "Algorithm"
    )
    if c14n_method not in SUPPORTED_C14N:
        raise _unsupported(f"canonicalization {c14n_method}")
    data = c14n_bytes(signed_info, c14n_method)
    key = cert.public_key()
    try:
        if kind == "RSA" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), _HASH[hash_name]())
        elif kind == "EC" and isinstance(key, ec.EllipticCurvePublicKey):
            half = len(value) // 2
            der = encode_dss_signature(
                int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big")
            )
            key.verify(der, data, ec.ECDSA(_HASH[hash_name]()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _signing_time(
    signature: etree._Element, covered: list[etree._Element | None]
) -> dt.datetime | None:
    for node in signature.iter("{*}SigningTime"):
        if not any(c is not None and (c is node or c in node.iterancestors()) for c in covered):
            continue  # not signed: a claim anyone could have edited
        text = (node.text or "").strip().replace("Z", "+00:00")
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise _invalid(f"SigningTime {text!r}") from exc
        # Vietnamese tools often write local time without an offset.
        return when if when.tzinfo else when.replace(tzinfo=VIETNAM)
    return None


def _check_signature(
    tree: etree._ElementTree, signature: etree._Element, profile: str | None
) -> tuple[XmlVerification, list[bytes]]:
    signed_info = _one(signature, f"{_DS}SignedInfo", "SignedInfo")
    method = _one(signed_info, f"{_DS}SignatureMethod", "SignatureMethod").get("Algorithm") or ""
    if method not in _SIGNATURES:
        raise _unsupported(f"signature method {method}")
    value = _b64(_one(signature, f"{_DS}SignatureValue", "SignatureValue").text, "SignatureValue")
    cert_ders = [
        _b64(c.text, "X509Certificate")
        for c in signature.iterfind(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate")
    ]
    if not cert_ders:
        raise _unsupported("no X509Certificate in KeyInfo")
    if len(cert_ders) > _MAX_CERTIFICATES:
        raise _unsupported(f"{len(cert_ders)} certificates in KeyInfo")
    signer_der = None
    for der in cert_ders:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise KysoError("CERT_INVALID", {"detail": str(exc)}) from exc
        if _check_value(signed_info, method, value, cert):
            signer_der = der
            break
    if signer_der is None:
        raise _invalid("the signature value does not match SignedInfo and the certificate")
    refs = signed_info.findall(f"{_DS}Reference")
    if not refs:
        raise _invalid("no Reference")
    if len(refs) > _MAX_REFERENCES:
        # Each reference may hash the whole file: bound the work a hostile file can ask for.
        raise _unsupported(f"{len(refs)} references (at most {_MAX_REFERENCES})")
    covered = [_check_reference(tree, signature, ref) for ref in refs]
    root = tree.getroot()
    wanted: set[str] = set()
    if profile in PROFILES:
        placement = PROFILES[profile].placement_for(root)
        if placement.reference_element:
            wanted.add(placement.reference_element)
    covers_document = (
        any(c is None or c is root for c in covered)
        or any(
            c is not None and c.getparent() is root and etree.QName(c).localname in wanted
            for c in covered
        )
        # generic, asked for by name: the caller chose what must be covered (see .references)
        or (
            profile == "generic" and any(c is not None and c.tag != f"{_DS}Object" for c in covered)
        )
    )
    if not covers_document:
        raise _invalid("the signature does not cover the document")
    for local in wanted:
        # A second, unsigned twin of the signed element is how signature wrapping hides
        # content from the verifier while a portal reads the twin.
        twins = [c for c in root.iterchildren(etree.Element) if etree.QName(c).localname == local]
        if len(twins) != 1:
            raise _invalid(f"{len(twins)} <{local}> elements: only one may be signed and read")
    return (
        XmlVerification(
            signer=parse_certificate(signer_der),
            signing_time=_signing_time(signature, covered),
            profile=profile,
            signature_id=signature.get("Id"),
            signature_method=method,
            references=tuple(r.get("URI") or "" for r in refs),
            certificate_checked=False,
        ),
        [d for d in cert_ders if d != signer_der],
    )


def check_xml_signature(
    document: bytes, *, profile: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> XmlVerification:
    """Check the signature(s) cryptographically, without judging the certificate.

    Used for the read-back after signing (the signer's own certificate is the expected one)
    and by :func:`verify_xml`. Returns the first signature's result; every signature found
    must be valid. Raises NOT_SIGNED, SIGNATURE_INVALID, XML_SIGNATURE_UNSUPPORTED, XML_*.
    """
    return _check_all(document, profile, max_bytes)[0]


def _check_all(
    document: bytes, profile: str | None, max_bytes: int
) -> tuple[XmlVerification, list[bytes]]:
    tree = parse_untrusted(document, max_bytes=max_bytes)
    signatures, name = _find_signatures(tree.getroot(), profile)
    if not signatures:
        raise KysoError("NOT_SIGNED")
    if len(signatures) > _MAX_SIGNATURES:
        raise _unsupported(f"{len(signatures)} signatures (at most {_MAX_SIGNATURES})")
    results = [_check_signature(tree, sig, name) for sig in signatures]
    return results[0]


def verify_xml(
    document: bytes,
    trust: Any,
    *,
    profile: str | None = None,
    at: dt.datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> XmlVerification:
    """Verify a signed XML document: signature, then the signer's certificate.

    ``trust`` is an :class:`agent.signing.trust.TrustStore`. The certificate is validated at
    ``at``, else at the signed SigningTime, else now. The profile is guessed from the root
    element when not given. Returns an :class:`XmlVerification`; raises KysoError with
    NOT_SIGNED ("file not signed"), SIGNATURE_INVALID ("the file may have been modified"),
    XML_SIGNATURE_UNSUPPORTED, CERT_UNTRUSTED / CERT_EXPIRED / CERT_NOT_YET_VALID /
    CERT_REVOKED / CERT_KEY_USAGE / CRL_MISSING / CRL_EXPIRED, or XML_* for unreadable input.
    Certificate errors carry the signer's subject, MST and CCCD in their details.
    """
    from agent.signing.trust import validate_certificate

    result, extra = _check_all(document, profile, max_bytes)
    try:
        validate_certificate(
            result.signer.der,
            trust,
            at=at or result.signing_time,
            extra_certs=extra,
            purpose="sign",
        )
    except KysoError as exc:
        info = result.signer
        raise KysoError(
            exc.code,
            {
                **exc.details,
                "signer": info.subject_display,
                "mst": info.mst,
                "cccd": info.cccd,
                "signing_time": result.signing_time.isoformat() if result.signing_time else None,
            },
        ) from exc
    return dataclasses.replace(result, certificate_checked=True)
