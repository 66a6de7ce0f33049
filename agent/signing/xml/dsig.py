"""The ``<Signature>`` itself: signxml builds and signs SignedInfo with a token-backed key.

Imported lazily by :mod:`agent.signing.xml.signer` (after the document's tree is freed), so
signxml's import does not add to the peak memory of signing a large dossier.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from lxml import etree
from signxml import DigestAlgorithm, SignatureConstructionMethod, SignatureMethod, XMLSigner
from signxml.signer import SignatureReference

from agent.errors import KysoError
from agent.signing.signer import Signer
from agent.signing.xml.c14n import c14n_bytes, digest_element
from agent.signing.xml.model import Prepared, Reference
from agent.signing.xml.profiles import DS_NS, SIGNING_TIME_NS, XmlProfile
from agent.tokens.algorithms import KeyKind, SignatureAlgorithm

_DS = f"{{{DS_NS}}}"
_CURVES = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}


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
    if signer.key_kind is KeyKind.EC:
        if hash_name == "sha1":
            raise KysoError(
                "INPUT_INVALID", {"detail": "SHA-1 is only offered for legacy RSA signatures"}
            )
        return SignatureMethod[f"ECDSA_{hash_name.upper()}"].value
    return SignatureMethod[f"RSA_{hash_name.upper()}"].value


class _Precomputed:
    """A reference digest computed by streaming C14N, handed to signxml in place of a node."""

    def __init__(self, ref: Reference) -> None:
        self.ref = ref


class _KysoXMLSigner(XMLSigner):
    """signxml for SignedInfo, SignatureValue and KeyInfo; digests come precomputed.

    Overrides signxml 5.x's internal steps (``_unpack``, ``_build_transforms_for_reference``,
    ``_c14n``, ``_get_digest``): pinned by ``signxml<6`` in pyproject.toml, and every profile is
    checked with xmlsec1 in tests/signing_xml.
    """

    def __init__(
        self,
        sig_root: etree._Element,
        skeleton: etree._Element,
        references: dict[str, Reference],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.namespaces = {None: DS_NS}
        self._sig_root = sig_root
        self._skeleton = skeleton
        self._references = references

    def check_deprecated_methods(self) -> None:
        """Allow SHA-1: it only reaches here when asked for (``XmlProfile.check_algorithms``)."""

    def _ds_tag(self, tag: str) -> etree.QName:
        return etree.QName(DS_NS, tag)

    def _unpack(self, data: Any, refs: Any) -> Any:
        inputs = [_Precomputed(self._references[r.URI]) for r in refs]
        return self._sig_root, self._skeleton, inputs, refs

    def _build_transforms_for_reference(
        self, *, transforms_node: Any, reference: Any, **_: Any
    ) -> None:
        for algorithm in self._references[reference.URI].transforms:
            etree.SubElement(transforms_node, f"{_DS}Transform", Algorithm=algorithm)

    def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> Any:
        # SignedInfo is canonicalized by our helper: lxml's in-place subtree c14n is wrong
        # under a default namespace (see agent.signing.xml.c14n.standalone).
        return nodes if isinstance(nodes, _Precomputed) else c14n_bytes(nodes, algorithm.value)

    def _get_digest(self, data: Any, algorithm: Any) -> bytes:
        if isinstance(data, _Precomputed):
            return data.ref.digest
        return super()._get_digest(data, algorithm)


def build_signature(
    prepared: Prepared, profile: XmlProfile, key: TokenKey, signer: Signer
) -> bytes:
    """Build and sign the <Signature> with signxml; return it serialized (worker thread)."""
    sig_id = f"KysoSig-{uuid.uuid4().hex[:16]}"
    skeleton = etree.Element(prepared.plan.container_tag, nsmap=prepared.plan.container_nsmap)
    sig_root = etree.SubElement(skeleton, f"{_DS}Signature", nsmap={None: DS_NS}, Id=sig_id)
    references = list(prepared.plan.references)
    obj: etree._Element | None = None
    if profile.signing_time:
        obj_id = f"{sig_id}-SigningTime"
        obj = etree.SubElement(sig_root, f"{_DS}Object", Id=obj_id)
        props = etree.SubElement(obj, f"{_DS}SignatureProperties")
        prop = etree.SubElement(props, f"{_DS}SignatureProperty", Target=f"#{sig_id}")
        when = dt.datetime.now(dt.UTC).replace(microsecond=0)
        # Its own namespace, not ds: XML-DSig §4.8 allows only ##other inside SignatureProperty.
        stamp = etree.SubElement(
            prop, f"{{{SIGNING_TIME_NS}}}SigningTime", nsmap={None: SIGNING_TIME_NS}
        )
        stamp.text = when.isoformat().replace("+00:00", "Z")
        # The Object's digest depends on the namespaces in scope: take it in place, then
        # move the Object after KeyInfo where the schema wants it.
        references.append(
            Reference(
                f"#{obj_id}", (profile.c14n,), digest_element(obj, profile.c14n, profile.hash_name)
            )
        )
        sig_root.remove(obj)

    xml_signer = _KysoXMLSigner(
        sig_root,
        skeleton,
        {r.uri: r for r in references},
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=_signature_method(signer, profile.hash_name),
        digest_algorithm=DigestAlgorithm[profile.hash_name.upper()],
        c14n_algorithm=profile.c14n,
    )
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
    # Out of the stand-in, the Signature declares only the namespace it uses.
    skeleton.remove(sig_root)
    # ASCII with character references fits every ASCII-compatible document encoding.
    out_encoding = "utf-8" if prepared.encoding.lower().replace("-", "") == "utf8" else "us-ascii"
    return etree.tostring(sig_root, encoding=out_encoding)
