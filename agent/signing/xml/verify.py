"""Verifying enveloped XML-DSig signatures the way a portal's "Kiểm tra hồ sơ" does.

libxmlsec (the ``xmlsec`` binding, the library behind xmlsec1) checks the signature value and
every reference digest. Kyso's layer on top only decides what libxmlsec is asked and what its
"valid" is worth:

1. the signatures are taken from the profile's container (``Hoso/CKy_Dvi``, ``<form>/Cky``,
   ``HSoThueDTu/CKyDTu``), never from anywhere in the file;
2. before any crypto, SignedInfo must hold exactly one content reference, resolving **by
   position** to what the profile says is signed (the whole document, or the root's single
   ``HSoKhaiThue``), through an id that exactly one element carries, plus at most one reference
   to an ``Object`` of the same signature (the SigningTime). Transforms: enveloped and C14N
   1.0 / exclusive, nothing else (libxmlsec is told to refuse the rest too). These rules live
   in :mod:`agent.signing.xml.references`;
3. libxmlsec verifies with the key of the certificate Kyso picked from the signature;
4. an XAdES SignatureTimeStamp, when there is one (:mod:`.xades`): its token intact and
   made over this SignatureValue, its authority's certificate trusted at its genTime;
5. the signer's certificate: :func:`agent.signing.trust.validate_certificate` (chain, validity,
   key usage, CRL) at that genTime (proof the signature existed then), else now. The signed
   SigningTime is the signer's claim (anyone holding a revoked key can backdate it): reported,
   never the validation time.

One non-conformant shape is accepted by name (:mod:`agent.signing.xml.shapes`): CA2's BHXH
signer, whose ``URI=""`` lacks the enveloped transform; its digest is recomputed by libxml2
C14N without the signature and its value checked by libxmlsec on the canonical SignedInfo.
Failures raise KysoError (NOT_SIGNED, SIGNATURE_INVALID, XML_SIGNATURE_UNSUPPORTED, CERT_*,
XML_*).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import io
from dataclasses import dataclass
from typing import Any

import xmlsec
from cryptography import x509
from lxml import etree

from agent.errors import KysoError
from agent.signing.xml import shapes
from agent.signing.xml.c14n import (
    SUPPORTED_C14N,
    c14n_bytes,
    c14n_flags,
    detached,
    subtree_without,
)
from agent.signing.xml.portable import refuse_dotnet_encoding
from agent.signing.xml.profiles import DS_NS, ENVELOPED, PROFILES, Placement, guess_profile
from agent.signing.xml.references import (
    DIGESTS,
    Ref,
    b64_value,
    id_index,
    inside,
    invalid,
    one,
    plan_references,
    read_references,
    unsupported,
)
from agent.signing.xml.safe import DEFAULT_MAX_BYTES, parse_untrusted
from agent.signing.xml.structure import malformed
from agent.signing.xml.xades import SignatureTimestamp, read_signature_timestamp
from agent.tokens.certinfo import CertificateInfo, parse_certificate

_DS = f"{{{DS_NS}}}"
_SIGNATURE_METHODS = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
# libxmlsec's transforms by URI: the only ones it may run for us.
_TRANSFORMS = {
    t.href: t
    # xmlsec's stubs lack Transform and KeyFormat, which the extension module does have.
    for t in (getattr(xmlsec.Transform, n) for n in dir(xmlsec.Transform) if n.isupper())  # type: ignore[attr-defined]
    if getattr(t, "href", None)
}
VIETNAM = dt.timezone(dt.timedelta(hours=7))
_MAX_SIGNATURES = 8
_MAX_CERTIFICATES = 10
_ID_ATTRIBUTES = ("Id", "ID", "id")


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
    shape: shapes.Shape = shapes.XMLDSIG  # whose layout (Kyso, VNPT SmartCA, CA2, ...)
    # The canonical bytes the content reference's digest covers (the signature left out, no
    # comments): read fields from a tree parsed from these, never from the uploaded file.
    covered_c14n: bytes = b""
    covered_digest: str = ""  # SHA-256 hex of covered_c14n
    # The XAdES SignatureTimeStamp (checked against the SignatureValue), None when absent.
    timestamp: SignatureTimestamp | None = None
    # When verify_xml judged the certificate, and why then ("timestamp", "now", "given").
    validated_at: dt.datetime | None = None
    validated_at_source: str | None = None
    # The file's other signatures (a tax agent's beside the taxpayer's...), each checked as
    # this one: verify_xml judges every signer, not only the one it reports first.
    other_signatures: tuple[XmlVerification, ...] = ()

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
            "shape": self.shape.code,
            "shape_vi": self.shape.vi,
            "shape_en": self.shape.en,
            "covered_digest": self.covered_digest,
            "timestamp": self.timestamp.to_json() if self.timestamp else None,
            "validated_at": self.validated_at.isoformat() if self.validated_at else None,
            "validated_at_source": self.validated_at_source,
            "other_signatures": [
                {
                    "signer": other.signer.to_json(),
                    "signing_time": other.signing_time.isoformat() if other.signing_time else None,
                    "signature_id": other.signature_id,
                    "references": list(other.references),
                    "certificate_checked": other.certificate_checked,
                }
                for other in self.other_signatures
            ],
        }


def _find_signatures(
    root: etree._Element, profile: str | None
) -> tuple[list[etree._Element], str | None, Placement | None]:
    """The Signature elements the profile says to check (every one for no profile)."""
    name = profile if profile is not None else guess_profile(root)
    if name is not None and name != "generic":
        placement = PROFILES[name].placement_for(root)
        holders = [
            c
            for c in root.iterchildren(etree.Element)
            if etree.QName(c).localname == placement.container
        ]
        if not holders:
            raise KysoError("NOT_SIGNED", {"detail": f"no <{placement.container}>"})
        return [s for h in holders for s in h.iterchildren(f"{_DS}Signature")], name, placement
    return list(root.iter(f"{_DS}Signature")), name, None


def _certificates(signature: etree._Element) -> list[bytes]:
    """X509Certificate values in KeyInfo/X509Data, or in X509Data beside KeyInfo (CA2)."""
    found = [
        *signature.iterfind(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate"),
        *signature.iterfind(f"{_DS}X509Data/{_DS}X509Certificate"),
    ]
    if not found:
        raise unsupported("no X509Certificate in the signature")
    if len(found) > _MAX_CERTIFICATES:
        raise unsupported(f"{len(found)} certificates in the signature")
    return [b64_value(c.text, "X509Certificate") for c in found]


def _signer_candidates(ders: list[bytes]) -> list[bytes]:
    """The certificates that may have signed, end-entity first: a certificate that issued
    another one in the list is a CA. Verifying is a full pass over the document, so the
    likely signer is tried first and a list of CA certificates costs nothing extra."""
    certs = []
    for der in ders:
        try:
            certs.append((der, x509.load_der_x509_certificate(der)))
        except ValueError as exc:
            raise KysoError("CERT_INVALID", {"detail": str(exc)}) from exc
    issuers = {c.issuer for _, c in certs if c.issuer != c.subject}
    leaves = [d for d, c in certs if c.subject not in issuers]
    return leaves + [d for d, _ in certs if d not in leaves]


def _context(der: bytes, method: str, refs: list[Ref], c14n_method: str) -> Any:
    ctx = xmlsec.SignatureContext()
    try:
        ctx.key = xmlsec.Key.from_memory(der, xmlsec.KeyFormat.CERT_DER)  # type: ignore[attr-defined]
    except xmlsec.Error as exc:
        raise KysoError("CERT_INVALID", {"detail": "libxmlsec cannot read the key"}) from exc
    # Only what the references and SignedInfo name, all pre-checked: no XSLT, XPath, base64.
    for uri in {c14n_method, method}:
        ctx.enable_signature_transform(_TRANSFORMS[uri])
    for ref in refs:
        for uri in {ref.c14n, *([ENVELOPED] if ref.enveloped else [])}:
            ctx.enable_reference_transform(_TRANSFORMS[uri])
        ctx.enable_reference_transform(
            _TRANSFORMS[next(u for u, n in DIGESTS.items() if n == ref.digest_name)]
        )
    return ctx


def _verify_value(
    signed_info: etree._Element, method: str, c14n_method: str, value: bytes, der: bytes
) -> bool:
    """libxmlsec checks SignatureValue over the canonical SignedInfo (the CA2 path only)."""
    ctx = _context(der, method, [], c14n_method)
    try:
        ctx.verify_binary(c14n_bytes(signed_info, c14n_method), _TRANSFORMS[method], value)
    except xmlsec.Error:
        return False
    return True


def _digest(
    tree: etree._ElementTree, signature: etree._Element, ref: Ref, implicit: bool
) -> bytes | None:
    """The canonical bytes the reference covers, with this signature left out when it is
    inside (the enveloped transform, implied for CA2's shape); comments never count.

    An element (and CA2's document element) is canonicalized from a copy with the signature
    left out there; the tree is not touched. None for the whole document when the signature
    is inside it: that needs the signature taken out of the tree itself (a copy of a 20 MB
    dossier would double the memory), which :func:`_whole_document` does once every
    signature value has been checked.
    """
    exclusive, _ = c14n_flags(ref.c14n)
    out = io.BytesIO()
    if ref.target is None and not implicit:
        if inside(signature, tree.getroot()):
            return None
        tree.write_c14n(out, exclusive=exclusive, with_comments=False)
    else:  # an element; CA2 canonicalizes the document element alone, as .NET does
        target = ref.target if ref.target is not None else tree.getroot()
        excluded = signature if inside(signature, target) else None
        subtree_without(target, excluded).write_c14n(out, exclusive=exclusive, with_comments=False)
    return out.getvalue()


def _whole_document(tree: etree._ElementTree, signature: etree._Element, c14n: str) -> bytes:
    """The canonical document without ``signature`` (``URI=""``, enveloped).

    Takes the signature out of the tree for the duration, which lxml does not undo exactly
    (c14n.detached): called only after libxmlsec has checked every signature in the tree.
    """
    exclusive, _ = c14n_flags(c14n)
    out = io.BytesIO()
    with detached(signature):
        tree.write_c14n(out, exclusive=exclusive, with_comments=False)
    return out.getvalue()


def _signing_time(target: etree._Element | None) -> dt.datetime | None:
    """The SigningTime inside the signed Object (any namespace: ours, ds for old Kyso files,
    CA2's), read only when a verified reference covers it."""
    if target is None:
        return None
    for node in target.iter("{*}SigningTime"):
        text = (node.text or "").strip().replace("Z", "+00:00")
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise invalid(f"SigningTime {text!r}") from exc
        # Vietnamese tools often write local time without an offset.
        return when if when.tzinfo else when.replace(tzinfo=VIETNAM)
    return None


def _algorithms(signed_info: etree._Element) -> tuple[str, str]:
    """SignatureMethod and CanonicalizationMethod, refused unless Kyso supports them."""
    method = one(signed_info, f"{_DS}SignatureMethod", "SignatureMethod").get("Algorithm") or ""
    if method not in _SIGNATURE_METHODS:
        raise unsupported(f"signature method {method}")
    c14n_method = one(signed_info, f"{_DS}CanonicalizationMethod", "CanonicalizationMethod").get(
        "Algorithm"
    )
    if c14n_method not in SUPPORTED_C14N:
        raise unsupported(f"canonicalization {c14n_method}")
    return method, c14n_method


def _value_verifies(
    signature: etree._Element,
    signed_info: etree._Element,
    method: str,
    c14n_method: str,
    value: bytes,
    der: bytes,
    refs: list[Ref],
    implicit: bool,
) -> bool:
    """Whether ``der``'s key made the signature value (libxmlsec, or Kyso's check for CA2)."""
    if implicit:
        return _verify_value(signed_info, method, c14n_method, value, der)
    try:
        _context(der, method, refs, c14n_method).verify(signature)
    except xmlsec.Error:
        return False
    return True


def _check_signature(
    tree: etree._ElementTree,
    signature: etree._Element,
    profile: str | None,
    placement: Placement | None,
    ids: dict[str, list[etree._Element]],
) -> tuple[XmlVerification, list[bytes], Ref]:
    """One signature checked on the untouched tree: (result, the other certificates, its
    content reference). ``covered_digest`` is "" when the covered bytes are the whole document
    without this signature, taken afterwards (:func:`_whole_document`)."""
    root = tree.getroot()
    layout = malformed(signature)
    if layout is not None:  # .NET SignedXml (the portals) would not even load it
        raise invalid(f"{layout} (.NET SignedXml refuses it as malformed)")
    signed_info = one(signature, f"{_DS}SignedInfo", "SignedInfo")
    method, c14n_method = _algorithms(signed_info)
    value = b64_value(
        one(signature, f"{_DS}SignatureValue", "SignatureValue").text, "SignatureValue"
    )
    refs = read_references(signature, signed_info, ids)
    content, props = plan_references(root, signature, refs, profile, placement)
    covers_signature = content.target is None or inside(signature, content.target)
    implicit = False
    if covers_signature and not content.enveloped:
        implicit = props is None and shapes.implicit_enveloped(signature, True, False)
        if not implicit:
            raise invalid("the reference covers its own signature without the enveloped transform")
    ders = _certificates(signature)
    # libxmlsec judges the tree as parsed: nothing before it may take a signature out of the
    # tree and put it back (c14n.detached rewrites its namespace declarations: a valid
    # signature under a root declaring xmlns:ds was refused, a broken one accepted).
    signer_der = next(
        (
            der
            for der in _signer_candidates(ders)
            if _value_verifies(
                signature, signed_info, method, c14n_method, value, der, refs, implicit
            )
        ),
        None,
    )
    if signer_der is None:
        raise invalid("libxmlsec: the signature does not match the document and certificate")
    covered = _digest(tree, signature, content, implicit)
    if implicit:
        # CA2: libxmlsec cannot run this reference; its digest is checked here on libxml2's
        # C14N (of a copy), the signature value by libxmlsec above.
        assert covered is not None
        actual = hashlib.new(content.digest_name, covered).digest()
        if not hmac.compare_digest(actual, content.digest_value):
            raise invalid("digest of the document does not match")
    shape = shapes.detect(signature, content.uri, implicit)
    # Unsigned, so read only once the signature it stamps is known to be good.
    timestamp = read_signature_timestamp(signature)
    return (
        XmlVerification(
            signer=parse_certificate(signer_der),
            signing_time=_signing_time(props.target if props else None),
            profile=profile,
            signature_id=signature.get("Id"),
            signature_method=method,
            references=tuple(r.uri for r in refs),
            certificate_checked=False,
            shape=shape,
            covered_c14n=covered or b"",
            covered_digest=hashlib.sha256(covered).hexdigest() if covered is not None else "",
            timestamp=timestamp,
        ),
        [d for d in ders if d != signer_der],
        content,
    )


def check_xml_signature(
    document: bytes, *, profile: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> XmlVerification:
    """Check the signature(s) cryptographically, without judging the certificate.

    Used for the read-back after signing (the signer's own certificate is the expected one)
    and by :func:`verify_xml`. Returns the first signature's result; every signature found
    must be valid. Raises NOT_SIGNED, SIGNATURE_INVALID, XML_SIGNATURE_UNSUPPORTED, XML_*.
    """
    return _check_all(document, profile, max_bytes)[0][0]


Checked = tuple[XmlVerification, list[bytes]]  # a signature's result, its other certificates


def _check_all(document: bytes, profile: str | None, max_bytes: int) -> list[Checked]:
    """Every signature checked, the one to report first at the head: the first one, or when
    no profile was named, the first that covers the whole document (a person's signature over
    one part, then the company's over the file, is not "partial": interop 39)."""
    tree = parse_untrusted(document, max_bytes=max_bytes)
    root = tree.getroot()
    signatures, name, placement = _find_signatures(root, profile)
    if not signatures:
        raise KysoError("NOT_SIGNED")
    if name in PROFILES and PROFILES[name].dotnet_verifier:
        # Valid to Kyso, unreadable to the portal: said as signing says it, not VALID.
        refuse_dotnet_encoding(tree.docinfo.encoding, name)
    if len(signatures) > _MAX_SIGNATURES:
        raise unsupported(f"{len(signatures)} signatures (at most {_MAX_SIGNATURES})")
    # libxmlsec resolves "#id" through libxml2's id table; _resolve has already made sure
    # each referenced value is carried by exactly one element.
    xmlsec.tree.add_ids(root, list(_ID_ATTRIBUTES))
    ids = id_index(root)
    results: list[tuple[XmlVerification, list[bytes], Ref] | None] = []
    partial: KysoError | None = None
    for sig in signatures:
        try:
            results.append(_check_signature(tree, sig, name, placement, ids))
        except KysoError as exc:
            if exc.code != "XML_SIGNATURE_PARTIAL":
                raise
            partial = partial or exc
            results.append(None)
    whole = [i for i, r in enumerate(results) if r is not None and r[2].target in (None, root)]
    if partial is not None:
        if not whole:
            raise partial  # nothing covers the file: say what the signature covers
        # Beside a signature over the whole file, one over a part is read as "generic" reads
        # it (its references reported, judged by the caller), never left unchecked.
        results = [
            r if r is not None else _check_signature(tree, sig, "generic", None, ids)
            for r, sig in zip(results, signatures, strict=True)
        ]
    head = whole[0] if partial is not None else 0
    checked = [r for r in results if r is not None]
    first, extra, content = checked[head]
    if first.covered_digest == "":
        # The whole document without that signature, now that libxmlsec has judged every
        # signature on the untouched tree (the others' covered bytes are not returned).
        covered = _whole_document(tree, signatures[head], content.c14n)
        first = dataclasses.replace(
            first, covered_c14n=covered, covered_digest=hashlib.sha256(covered).hexdigest()
        )
    others = [(r[0], r[1]) for i, r in enumerate(checked) if i != head]
    return [(first, extra), *others]


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
    ``at`` when a caller gives one (the portal: when it acts on a request), else at the genTime
    of the signature's XAdES SignatureTimeStamp once its authority is trusted, else now
    (:func:`agent.signing.timestamps.validation_time`); never at the SigningTime the signature
    claims. The profile is guessed from the root element when not given. Returns an
    :class:`XmlVerification` (with ``shape``, the signer layout found, ``covered_c14n``, the
    canonical signed content, and ``validated_at``); raises KysoError with NOT_SIGNED ("file
    not signed"), SIGNATURE_INVALID ("the file may have been modified"),
    XML_SIGNATURE_UNSUPPORTED, CERT_UNTRUSTED / CERT_EXPIRED / CERT_NOT_YET_VALID /
    CERT_REVOKED / CERT_KEY_USAGE / CRL_MISSING / CRL_EXPIRED, or XML_* for unreadable input.
    Certificate errors carry the signer's subject, MST and CCCD, the claimed ``signing_time``
    and ``validated_at`` in their details; a timestamp authority's certificate errors carry
    ``timestamp_authority``.
    Every signature is judged so; the first (or, without a profile, the first over the whole
    file) is the result, the others are its ``other_signatures``.
    """
    checked = _check_all(document, profile, max_bytes)
    # Every signer is judged: a revoked or expired second signer (a tax agent's) was reported
    # VALID because only the first was (interop 39).
    judged = [_judge(result, extra, trust, at) for result, extra in checked]
    return dataclasses.replace(judged[0], other_signatures=tuple(judged[1:]))


def _judge(
    result: XmlVerification, extra: list[bytes], trust: Any, at: dt.datetime | None
) -> XmlVerification:
    """One signature's certificate judged (at its trusted timestamp's time, else ``at`` or
    now); KysoError naming that signer otherwise."""
    from agent.signing.timestamps import validate_signer, validation_time
    from agent.signing.xml.xades import validate_authority

    stamps = []
    if result.timestamp is not None:  # first: its trusted genTime is the validation time
        validate_authority(result.timestamp, trust)
        stamps.append(result.timestamp.gen_time)
    when = validation_time(stamps, at)
    try:
        validate_signer(
            result.signer.der, trust, when, signing_time=result.signing_time, extra_certs=extra
        )
    except KysoError as exc:
        info = result.signer
        raise KysoError(
            exc.code,
            {**exc.details, "signer": info.subject_display, "mst": info.mst, "cccd": info.cccd},
        ) from exc
    return dataclasses.replace(
        result, certificate_checked=True, validated_at=when.at, validated_at_source=when.source
    )
