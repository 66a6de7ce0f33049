"""Enveloped XML-DSig with a token key, spliced into the original bytes.

How a dossier is signed:

1. parse it safely once and find the profile's container (never guess);
2. stream libxml2's canonical form of what the signature covers into the hash (the document
   does not change when the signature is added: the enveloped transform takes it out again);
3. let signxml build and sign the small ``<Signature>`` in a stand-in for the container that
   has the same namespaces in scope; signxml calls our key object, which hands the bytes to
   the async :class:`Signer` on the event loop (the token worker) and waits for the result;
4. splice the serialized signature into the ORIGINAL bytes at the container, so encoding, the
   XML declaration, namespaces, comments and whitespace elsewhere stay byte for byte.

Steps 1–3 run in a worker thread: the event loop stays free while a 50 MB file is hashed.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from lxml import etree

from agent.errors import KysoError
from agent.signing.signer import Signer
from agent.signing.xml.c14n import digest_node
from agent.signing.xml.locate import ElementSpan, Locator
from agent.signing.xml.profiles import DS_NS, ENVELOPED, Placement, XmlProfile, get_profile
from agent.signing.xml.safe import DEFAULT_MAX_BYTES, declared_encoding, parse_untrusted
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm

_DS = "{%s}" % DS_NS
_CURVES = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}
_XML_ATTRS = "ancestor-or-self::*[@*[namespace-uri()='http://www.w3.org/XML/1998/namespace']]"


@dataclass
class _Reference:
    uri: str
    transforms: tuple[str, ...]
    digest: bytes


@dataclass
class _Prepared:
    """Everything found in the document before anything is signed."""

    encoding: str
    container_tag: str
    container_nsmap: dict[str | None, str]
    container_span: ElementSpan
    references: list[_Reference]
    edits: list[tuple[int, int, bytes]] = field(default_factory=list)  # (start, end, new bytes)


def _find_child(root: etree._Element, local: str, profile: XmlProfile) -> etree._Element:
    """The root's single child element called ``local``; error if missing or repeated."""
    found = [c for c in root.iterchildren(etree.Element) if etree.QName(c).localname == local]
    if not found:
        raise KysoError("XML_CONTAINER_MISSING", {"container": local, "profile": profile.name})
    if len(found) > 1:
        raise KysoError("XML_CONTAINER_AMBIGUOUS", {"container": local, "count": len(found)})
    return found[0]


def _element_with_id(root: etree._Element, value: str) -> etree._Element:
    found = root.xpath("//*[@Id=$v or @ID=$v or @id=$v]", v=value)
    if len(found) != 1:
        raise KysoError("INPUT_INVALID", {"detail": f"{len(found)} elements have the id {value!r}"})
    return found[0]


def _prepare(data: bytes, profile: XmlProfile, max_bytes: int) -> _Prepared:
    """Parse, check, locate and digest (runs in a worker thread)."""
    tree = parse_untrusted(data, max_bytes=max_bytes)
    encoding = declared_encoding(data[:200])
    root = tree.getroot()
    placement: Placement = profile.placement_for(root)
    container = root if not placement.container else _find_child(root, placement.container, profile)
    if container.find(f"{_DS}Signature") is not None:
        raise KysoError("XML_ALREADY_SIGNED", {"container": etree.QName(container).localname})
    if container.xpath(_XML_ATTRS):
        # libxml2 through lxml cannot carry inherited xml:lang/xml:space into the canonical
        # SignedInfo the way xmlsec1 and other verifiers do; refuse instead of signing wrongly.
        raise KysoError("XML_SIGNATURE_UNSUPPORTED", {"detail": "xml:* attributes around the signature"})
    locator = Locator(data, encoding)
    prepared = _Prepared(
        encoding=encoding,
        container_tag=container.tag,
        container_nsmap=dict(container.nsmap),
        container_span=locator.span(container),
        references=[],
    )
    ref_id = profile.extra.get("reference_id")
    if placement.reference_element or ref_id:
        if ref_id:
            target = _element_with_id(root, ref_id)
        else:
            target = _find_child(root, placement.reference_element or "", profile)
            ref_id = target.get(placement.id_attribute)
            if not ref_id:
                ref_id = f"{etree.QName(target).localname}-{uuid.uuid4().hex[:12]}"
                span = locator.span(target)
                at = span.attribute_insert_at
                attr = f' {placement.id_attribute}="{ref_id}"'.encode("ascii")
                prepared.edits.append((at, at, attr))
                target.set(placement.id_attribute, ref_id)
            else:
                _element_with_id(root, ref_id)  # must be unique
        if target.xpath(_XML_ATTRS):
            raise KysoError("XML_SIGNATURE_UNSUPPORTED", {"detail": "xml:* attributes around the referenced element"})
        covers_container = container is target or target in container.iterancestors()
        transforms = (ENVELOPED, profile.c14n) if covers_container else (profile.c14n,)
        prepared.references.append(
            _Reference(f"#{ref_id}", transforms, digest_node(target, profile.c14n, profile.hash_name))
        )
    else:
        prepared.references.append(
            _Reference("", (ENVELOPED, profile.c14n), digest_node(tree, profile.c14n, profile.hash_name))
        )
    return prepared


class TokenKey:
    """Looks like a ``cryptography`` private key to signxml; signs with the async Signer.

    signxml calls ``sign(data, padding, algorithm)`` for RSA and ``sign(data, ECDSA(hash))``
    for EC from a worker thread; the call is handed to the event loop that owns the token
    session and the thread waits for the signature (DER for ECDSA, as signxml expects).
    """

    def __init__(self, signer: Signer, loop: asyncio.AbstractEventLoop) -> None:
        self._signer = signer
        self._loop = loop
        info = signer.certificate
        self.key_size = info.key_size
        self.curve = _CURVES[info.curve]() if info.curve in _CURVES else None

    def public_key(self) -> Any:
        """The certificate's public key (signxml reads it only for KeyValue)."""
        return self._signer.certificate.certificate.public_key()

    def sign(self, data: bytes, *args: Any, **kwargs: Any) -> bytes:
        """Sign through the token; blocks this worker thread, never the event loop."""
        if self._signer.key_kind is KeyKind.EC:
            ecdsa = kwargs.get("signature_algorithm") or args[0]
            hash_name = ecdsa.algorithm.name
            algorithm = SignatureAlgorithm(f"ECDSA_{hash_name.upper()}")
        else:
            pad = kwargs.get("padding") or args[0]
            hash_alg: hashes.HashAlgorithm = kwargs.get("algorithm") or args[1]
            kind = "RSA_PSS" if isinstance(pad, padding.PSS) else "RSA_PKCS1"
            algorithm = SignatureAlgorithm(f"{kind}_{hash_alg.name.upper()}")
        future = asyncio.run_coroutine_threadsafe(self._signer.sign(data, algorithm), self._loop)
        return future.result()


def _signature_method(signer: Signer, hash_name: str) -> str:
    from signxml import SignatureMethod

    if signer.key_kind is KeyKind.EC:
        if hash_name == "sha1":
            raise KysoError("INPUT_INVALID", {"detail": "SHA-1 is only offered for legacy RSA signatures"})
        return SignatureMethod[f"ECDSA_{hash_name.upper()}"].value
    return SignatureMethod[f"RSA_{hash_name.upper()}"].value


def _build_signature(prepared: _Prepared, profile: XmlProfile, key: TokenKey, signer: Signer) -> bytes:
    """Build and sign the <Signature> with signxml; return it serialized (worker thread)."""
    # signxml is imported here, after the big tree is gone, to keep peak memory down.
    from signxml import DigestAlgorithm, SignatureConstructionMethod, XMLSigner
    from signxml.signer import SignatureReference

    sig_id = f"KysoSig-{uuid.uuid4().hex[:16]}"
    skeleton = etree.Element(prepared.container_tag, nsmap=prepared.container_nsmap)
    sig_root = etree.SubElement(skeleton, f"{_DS}Signature", nsmap={None: DS_NS}, Id=sig_id)
    references = list(prepared.references)
    obj: etree._Element | None = None
    if profile.signing_time:
        obj_id = f"{sig_id}-SigningTime"
        obj = etree.SubElement(sig_root, f"{_DS}Object", Id=obj_id)
        props = etree.SubElement(obj, f"{_DS}SignatureProperties")
        prop = etree.SubElement(props, f"{_DS}SignatureProperty", Target=f"#{sig_id}")
        when = dt.datetime.now(dt.UTC).replace(microsecond=0)
        etree.SubElement(prop, f"{_DS}SigningTime").text = when.isoformat().replace("+00:00", "Z")
        # The Object's digest depends on the namespaces in scope: take it in place, then
        # move the Object after KeyInfo where the schema wants it.
        references.append(_Reference(f"#{obj_id}", (profile.c14n,), digest_node(obj, profile.c14n, profile.hash_name)))
        sig_root.remove(obj)
    digests = {r.uri: r for r in references}

    class _Precomputed:
        def __init__(self, ref: _Reference) -> None:
            self.ref = ref

    class _KysoXMLSigner(XMLSigner):
        """signxml for SignedInfo, SignatureValue and KeyInfo; digests come precomputed."""

        def check_deprecated_methods(self) -> None:
            pass  # SHA-1 only reaches here when the user asked for a legacy signature

        def _ds_tag(self, tag: str) -> etree.QName:
            return etree.QName(DS_NS, tag)

        def _unpack(self, data: Any, refs: Any) -> Any:
            return sig_root, skeleton, [_Precomputed(digests[r.URI]) for r in refs], refs

        def _build_transforms_for_reference(self, *, transforms_node: Any, reference: Any, **_: Any) -> None:
            for algorithm in digests[reference.URI].transforms:
                etree.SubElement(transforms_node, f"{_DS}Transform", Algorithm=algorithm)

        def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> Any:
            return nodes if isinstance(nodes, _Precomputed) else super()._c14n(nodes, algorithm, inclusive_ns_prefixes)

        def _get_digest(self, data: Any, algorithm: Any) -> bytes:
            return data.ref.digest if isinstance(data, _Precomputed) else super()._get_digest(data, algorithm)

    xml_signer = _KysoXMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=_signature_method(signer, profile.hash_name),
        digest_algorithm=DigestAlgorithm[profile.hash_name.upper()],
        c14n_algorithm=profile.c14n,
    )
    xml_signer.namespaces = {None: DS_NS}
    info = signer.certificate
    key_info = etree.Element(f"{_DS}KeyInfo")
    x509_data = etree.SubElement(key_info, f"{_DS}X509Data")
    if profile.subject_name:
        etree.SubElement(x509_data, f"{_DS}X509SubjectName").text = info.subject
    etree.SubElement(x509_data, f"{_DS}X509Certificate").text = base64.b64encode(info.der).decode()
    if obj is not None:
        xml_signer.signature_annotators.append(lambda root, signing_settings: root.append(obj))
    xml_signer.sign(
        None,
        key=key,
        reference_uri=[SignatureReference(URI=r.uri) for r in references],
        key_info=key_info,
    )
    # ASCII with character references fits every ASCII-compatible document encoding.
    out_encoding = "utf-8" if prepared.encoding.lower().replace("-", "") == "utf8" else "us-ascii"
    return etree.tostring(sig_root, encoding=out_encoding)


def _splice(data: bytes, prepared: _Prepared, signature: bytes) -> bytes:
    """The original bytes with the signature (and any added id attribute) inserted."""
    span = prepared.container_span
    edits = list(prepared.edits)
    if span.self_closing:
        name = data[span.start + 1 : span.attribute_insert_at].split()[0]
        edits.append((span.start_tag_end - 2, span.start_tag_end, b">" + signature + b"</" + name + b">"))
    else:
        assert span.end_tag_start is not None
        edits.append((span.end_tag_start, span.end_tag_start, signature))
    edits.sort()
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    pos = 0
    for start, end, new in edits:
        parts += [view[pos:start], new]
        pos = end
    parts.append(view[pos:])
    return b"".join(parts)


async def sign_xml(
    document: bytes,
    signer: Signer,
    profile: str = "bhxh",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **options: Any,
) -> bytes:
    """Sign ``document`` enveloped, the way ``profile`` says, and return the signed bytes.

    Options (see :func:`agent.signing.xml.profiles.get_profile`): ``hash`` ("sha256"; "sha1"
    for legacy RSA files), ``c14n``, ``signing_time``, and for ``generic`` ``reference`` and
    ``container``. Every byte outside the inserted ``<Signature>`` is kept (an empty container
    ``<X/>`` becomes ``<X>…</X>``; the tax profile may add an ``id`` to ``HSoKhaiThue``).

    Raises KysoError: XML_* for unsafe, malformed or unfit documents (XML_CONTAINER_MISSING,
    XML_ALREADY_SIGNED, XML_PROFILE_MISMATCH...), and the token's errors while signing.
    """
    prof = get_profile(profile, **options)
    if not isinstance(document, bytes):
        document = bytes(document)
    prepared = await asyncio.to_thread(_prepare, document, prof, max_bytes)
    key = TokenKey(signer, asyncio.get_running_loop())
    signature = await asyncio.to_thread(_build_signature, prepared, prof, key, signer)
    return _splice(document, prepared, signature)
