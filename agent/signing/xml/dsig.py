"""The ``<Signature>`` itself: SignedInfo built from the digests already taken, signed once.

The reference digests come from streaming C14N of the document (:mod:`.c14n`); this module
writes ``<SignedInfo>`` around them with lxml, canonicalizes it with the profile's method,
signs those bytes with ONE ``await signer.sign(...)`` on the event loop (the only thread hop
is the token worker's, inside the :class:`Signer`) and assembles SignatureValue, KeyInfo and
the signed SigningTime object. No XML-DSig library sits in between, so no private API either;
the output is checked by xmlsec1, signxml, .NET and Java in tests/signing_xml and tests/interop.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from lxml import etree

from agent.errors import KysoError, invalid_input
from agent.signing.signer import Signer
from agent.signing.xml.c14n import c14n_bytes, digest_element
from agent.signing.xml.model import Prepared, Reference
from agent.signing.xml.profiles import DS_NS, SIGNING_TIME_NS, XmlProfile
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm, ecdsa_der_to_raw

_DS = f"{{{DS_NS}}}"
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
# XML-DSig and RFC 6931 identifiers (the same ones verify.py accepts).
DIGEST_METHODS = {
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": f"{_MORE}sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
_RSA_METHODS = {
    "sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "sha256": f"{_MORE}rsa-sha256",
    "sha384": f"{_MORE}rsa-sha384",
    "sha512": f"{_MORE}rsa-sha512",
}


def signature_method(key_kind: KeyKind, hash_name: str) -> tuple[str, SignatureAlgorithm]:
    """The SignatureMethod URI and the token algorithm for a key kind and hash."""
    if key_kind is KeyKind.EC:
        if hash_name == "sha1":
            raise invalid_input(
                "SHA-1 is only offered for legacy RSA signatures",
                "SHA-1 chỉ được hỗ trợ cho chữ ký RSA kiểu cũ",
            )
        return f"{_MORE}ecdsa-{hash_name}", SignatureAlgorithm(f"ECDSA_{hash_name.upper()}")
    return _RSA_METHODS[hash_name], SignatureAlgorithm(f"RSA_PKCS1_{hash_name.upper()}")


def _signature_value(signer: Signer, raw: bytes) -> bytes:
    """The SignatureValue bytes: as signed for RSA; for ECDSA the DER the Signer returns
    becomes r‖s, each padded to the curve's size (XML-DSig 1.1 §6.4.3, RFC 4050)."""
    if signer.key_kind is not KeyKind.EC:
        return raw
    return ecdsa_der_to_raw(raw, signer.certificate.key_size)


def _signing_time_object(sig_root: etree._Element, sig_id: str) -> etree._Element:
    """A ds:Object with SignatureProperties/SigningTime (now, UTC), placed in ``sig_root``."""
    obj = etree.SubElement(sig_root, f"{_DS}Object", Id=f"{sig_id}-SigningTime")
    props = etree.SubElement(obj, f"{_DS}SignatureProperties")
    prop = etree.SubElement(props, f"{_DS}SignatureProperty", Target=f"#{sig_id}")
    when = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # Its own namespace, not ds: XML-DSig §4.8 allows only ##other inside SignatureProperty.
    # Read from this module's globals at call time (a test writes the legacy ds form).
    stamp = etree.SubElement(
        prop, f"{{{SIGNING_TIME_NS}}}SigningTime", nsmap={None: SIGNING_TIME_NS}
    )
    stamp.text = when.isoformat().replace("+00:00", "Z")
    return obj


def _signed_info(
    sig_root: etree._Element, profile: XmlProfile, method: str, references: list[Reference]
) -> etree._Element:
    info = etree.SubElement(sig_root, f"{_DS}SignedInfo")
    etree.SubElement(info, f"{_DS}CanonicalizationMethod", Algorithm=profile.c14n)
    etree.SubElement(info, f"{_DS}SignatureMethod", Algorithm=method)
    for ref in references:
        node = etree.SubElement(info, f"{_DS}Reference", URI=ref.uri)
        transforms = etree.SubElement(node, f"{_DS}Transforms")
        for algorithm in ref.transforms:
            etree.SubElement(transforms, f"{_DS}Transform", Algorithm=algorithm)
        etree.SubElement(node, f"{_DS}DigestMethod", Algorithm=DIGEST_METHODS[profile.hash_name])
        etree.SubElement(node, f"{_DS}DigestValue").text = base64.b64encode(ref.digest).decode()
    return info


async def build_signature(
    prepared: Prepared, profile: XmlProfile, signer: Signer, timestamp_url: str | None = None
) -> bytes:
    """Build and sign the ``<Signature>``; return it serialized for splicing.

    Runs on the event loop: everything here is a few small elements, and the one blocking
    step, the token's signature, is awaited on the token worker. With ``timestamp_url`` the
    finished SignatureValue is then timestamped (no token, no PIN: :mod:`.xades`).
    """
    method, algorithm = signature_method(signer.key_kind, profile.hash_name)
    sig_id = f"KysoSig-{uuid.uuid4().hex[:16]}"
    # A stand-in for the container with the same namespaces in scope: inclusive C14N of
    # SignedInfo and of the Object shows them, as verifiers see them in the real document.
    skeleton = etree.Element(prepared.plan.container_tag, nsmap=prepared.plan.container_nsmap)
    sig_root = etree.SubElement(skeleton, f"{_DS}Signature", nsmap={None: DS_NS}, Id=sig_id)
    references = list(prepared.plan.references)
    obj: etree._Element | None = None
    if profile.signing_time:
        obj = _signing_time_object(sig_root, sig_id)
        # Its digest depends on the namespaces in scope: take it in place, then move the
        # Object after KeyInfo where the schema wants it.
        digest = digest_element(obj, profile.c14n, profile.hash_name)
        references.append(Reference(f"#{obj.get('Id')}", (profile.c14n,), digest))
        sig_root.remove(obj)

    info = _signed_info(sig_root, profile, method, references)
    raw = await signer.sign(c14n_bytes(info, profile.c14n), algorithm)
    etree.SubElement(sig_root, f"{_DS}SignatureValue").text = base64.b64encode(
        _signature_value(signer, raw)
    ).decode()

    cert = signer.certificate
    key_info = etree.SubElement(sig_root, f"{_DS}KeyInfo")
    x509_data = etree.SubElement(key_info, f"{_DS}X509Data")
    if profile.subject_name:
        etree.SubElement(x509_data, f"{_DS}X509SubjectName").text = cert.subject
    etree.SubElement(x509_data, f"{_DS}X509Certificate").text = base64.b64encode(cert.der).decode()
    if obj is not None:
        sig_root.append(obj)
    if timestamp_url:
        from agent.signing.xml.xades import add_signature_timestamp

        await add_signature_timestamp(sig_root, sig_id, timestamp_url, profile.hash_name)
    # ASCII with character references fits every ASCII-compatible document encoding.
    out_encoding = "utf-8" if prepared.encoding.lower().replace("-", "") == "utf8" else "us-ascii"
    signature = _in_context(skeleton, out_encoding)
    _check_written(skeleton, signature, info, profile.c14n)
    return signature


def _container_tags(skeleton: etree._Element, encoding: str) -> tuple[bytes, bytes]:
    """The stand-in's start and end tags as lxml writes them (around a one-character text)."""
    marker = etree.Element(skeleton.tag, nsmap=skeleton.nsmap)
    marker.text = "x"
    start, end = etree.tostring(marker, encoding=encoding, xml_declaration=False).split(b">x</")
    return start + b">", b"</" + end


def _in_context(skeleton: etree._Element, encoding: str) -> bytes:
    """The Signature's bytes exactly as they stand inside the stand-in container.

    The stand-in declares the namespaces in scope at the real container, so text that means
    the right thing inside it means the same inside the real container. Taking the Signature
    out of the stand-in instead (``skeleton.remove``, then serializing it alone) let lxml
    re-declare its namespaces after SignedInfo was signed: with the dsig namespace as the
    container's default it became ``ns0:Signature``/``ns0:SignedInfo``, whose canonical form
    is not what was signed (every outside verifier refused it; docs/interop.md).
    """
    whole = etree.tostring(skeleton, encoding=encoding, xml_declaration=False)
    start, end = _container_tags(skeleton, encoding)
    if not (whole.startswith(start) and whole.endswith(end)):
        raise KysoError("INTERNAL_ERROR", {"detail": "cannot place the XML signature"})
    return whole[len(start) : len(whole) - len(end)]


def _check_written(
    skeleton: etree._Element, signature: bytes, info: etree._Element, c14n: str
) -> None:
    """Parse the written Signature back between the container's tags, as a verifier reads it
    in the signed document, and check that its SignedInfo canonicalizes to the bytes the
    token signed (a few hundred bytes: cheap). Character references only: the signature's
    bytes read the same whether the document is UTF-8 or another ASCII-compatible encoding.
    """
    start, end = _container_tags(skeleton, "utf-8")
    written = etree.fromstring(start + signature + end).find(f"{_DS}Signature/{_DS}SignedInfo")
    if written is None or c14n_bytes(written, c14n) != c14n_bytes(info, c14n):
        raise KysoError(
            "INTERNAL_ERROR", {"detail": "the written SignedInfo is not the one signed"}
        )
