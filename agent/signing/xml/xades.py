"""XAdES signature timestamps on Kyso's enveloped XML-DSig signatures.

What this adds is one XAdES unsigned property, the SignatureTimeStamp, to a plain XML-DSig
signature: not a XAdES-T (or baseline B-T, ETSI EN 319 132-1) signature, which builds on a
XAdES-BES whose signed SignedProperties (SigningCertificate, SigningTime) we do not write (see
below); XAdES validators do not call ours XAdES (docs/interop.md). After the token has signed,
the canonical ``ds:SignatureValue`` element is hashed and sent to the agent's RFC 3161
authority (EN 319 132-1 §5.3: the message imprint covers the SignatureValue canonicalized with
the method the timestamp names). The token comes back into an unsigned ``ds:Object``::

    <Object><xades:QualifyingProperties Target="#<signature id>">
      <xades:UnsignedProperties><xades:UnsignedSignatureProperties>
        <xades:SignatureTimeStamp>
          <CanonicalizationMethod Algorithm="…exc-c14n#"/>
          <xades:EncapsulatedTimeStamp>base64 DER</xades:EncapsulatedTimeStamp>
    …

No SignedProperties: SignedInfo stays exactly what the BHXH and tax portals' verifiers (and
Kyso's own wrapping rules, one document reference plus one SigningTime Object) accept, and an
Object nothing references changes no XML-DSig verdict. Exclusive C14N for the imprint, so the
dossier's own namespaces around the signature do not enter it.

The RFC 3161 client is pyHanko's (as for CMS and PDF), imported only when a timestamp is asked;
reading a token back is :func:`agent.signing.timestamps.open_token`, shared with the CMS
verifier. Trusting the authority's certificate is
:func:`agent.signing.xml.verify.verify_xml`'s job (it has the trust store); the token's
genTime, once trusted, is the time the signer's certificate is judged at.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from agent.errors import KysoError
from agent.signing.timestamps import TokenRefused, open_token
from agent.signing.xml.c14n import SUPPORTED_C14N, c14n_bytes
from agent.signing.xml.profiles import C14N_1_0, DS_NS, EXC_C14N

if TYPE_CHECKING:
    from agent.signing.trust import TrustStore
    from agent.tokens.certinfo import CertificateInfo

XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
TIMESTAMP_C14N = EXC_C14N
_DS = f"{{{DS_NS}}}"
_XA = f"{{{XADES_NS}}}"
_STAMP_PATH = (
    f"{_DS}Object/{_XA}QualifyingProperties/{_XA}UnsignedProperties/"
    f"{_XA}UnsignedSignatureProperties/{_XA}SignatureTimeStamp"
)
_DER_ENCODING = "http://uri.etsi.org/01903/v1.2.2#DER"
# Imprint hashes we ask for and accept (SHA-1 imprints are refused on reading).
_IMPRINT_HASHES = {"sha256", "sha384", "sha512"}
TSA_TIMEOUT_SECONDS = 10


def imprint_hash(signature_hash: str) -> str:
    """The imprint's hash: the signature's, except SHA-1 (legacy files) becomes SHA-256."""
    return signature_hash if signature_hash in _IMPRINT_HASHES else "sha256"


async def request_token(url: str, digest: bytes, hash_name: str) -> bytes:
    """An RFC 3161 timestamp token (DER ContentInfo) over ``digest`` from the authority ``url``.

    TIMESTAMP_UNAVAILABLE when it cannot be reached or does not answer in time;
    TIMESTAMP_ANSWER_INVALID when it refuses, or its answer or token does not pass the checks
    of :mod:`agent.signing.tsa` (this imprint, its own signature, its authority, its time).
    """
    from agent.signing.tsa import CheckedTimeStamper

    token = await CheckedTimeStamper(url, timeout=TSA_TIMEOUT_SECONDS).async_timestamp(
        digest, hash_name
    )
    return bytes(token.dump())


async def add_signature_timestamp(
    sig_root: etree._Element, sig_id: str, url: str, hash_name: str
) -> etree._Element:
    """Timestamp ``sig_root``'s SignatureValue and append the XAdES Object carrying the token.

    ``sig_root`` is the finished Signature (SignatureValue filled in), still inside its
    stand-in container; returns the appended ``ds:Object``.
    """
    value = sig_root.find(f"{_DS}SignatureValue")
    if value is None:  # build_signature always writes one first
        raise KysoError("INTERNAL_ERROR", {"detail": "no SignatureValue to timestamp"})
    hash_name = imprint_hash(hash_name)
    digest = hashlib.new(hash_name, c14n_bytes(value, TIMESTAMP_C14N)).digest()
    token = await request_token(url, digest, hash_name)
    obj = etree.SubElement(sig_root, f"{_DS}Object")
    props = etree.SubElement(
        obj, f"{_XA}QualifyingProperties", nsmap={"xades": XADES_NS}, Target=f"#{sig_id}"
    )
    unsigned = etree.SubElement(props, f"{_XA}UnsignedProperties")
    sig_props = etree.SubElement(unsigned, f"{_XA}UnsignedSignatureProperties")
    stamp = etree.SubElement(sig_props, f"{_XA}SignatureTimeStamp")
    etree.SubElement(stamp, f"{_DS}CanonicalizationMethod", Algorithm=TIMESTAMP_C14N)
    etree.SubElement(stamp, f"{_XA}EncapsulatedTimeStamp").text = base64.b64encode(token).decode()
    return obj


# --- reading a timestamp back ----------------------------------------------------------------


@dataclass(frozen=True)
class SignatureTimestamp:
    """A SignatureTimeStamp whose token is intact and whose imprint matches the SignatureValue
    (anything else raises). Whether the authority is trusted is decided by ``verify_xml``."""

    gen_time: dt.datetime  # the authority's time (UTC)
    tsa_name: str  # TSTInfo's tsa name, else the signing certificate's subject
    tsa_certificate: bytes  # DER of the certificate that signed the token
    other_certificates: tuple[bytes, ...]  # the rest of the token's certificates (its chain)
    hash_name: str  # of the message imprint
    c14n: str  # the CanonicalizationMethod the imprint was taken with
    policy: str
    serial_number: int

    def to_json(self) -> dict[str, Any]:
        """JSON form: genTime, authority, and that the imprint matches."""
        return {
            "gen_time": self.gen_time.isoformat(),
            "tsa": self.tsa_name,
            "imprint_matches": True,
            "hash": self.hash_name,
            "c14n": self.c14n,
            "policy": self.policy,
            "serial_number": str(self.serial_number),
        }


def _invalid(detail: str) -> KysoError:
    return KysoError("SIGNATURE_INVALID", {"detail": detail})


def _unsupported(detail: str) -> KysoError:
    return KysoError("XML_SIGNATURE_UNSUPPORTED", {"detail": detail})


def _stamp_element(signature: etree._Element) -> etree._Element | None:
    """The one SignatureTimeStamp of this signature, for this signature, or None.

    Only the XAdES place is read (another place, or another XAdES namespace version, is not
    reported at all, so nothing from it can be taken for a checked time)."""
    stamps = signature.findall(_STAMP_PATH)
    if not stamps:
        return None
    if len(stamps) > 1:
        raise _unsupported(f"{len(stamps)} signature timestamps (at most one)")
    props = next(stamps[0].iterancestors(f"{_XA}QualifyingProperties"))
    target = props.get("Target")
    if signature.get("Id") is None or target != f"#{signature.get('Id')}":
        raise _invalid(f"QualifyingProperties Target {target!r} is not this signature")
    return stamps[0]


def _token_bytes(stamp: etree._Element) -> tuple[str, bytes]:
    method_el = stamp.findall(f"{_DS}CanonicalizationMethod")
    if len(method_el) > 1:
        raise _invalid("several CanonicalizationMethod in the SignatureTimeStamp")
    # XAdES: without a CanonicalizationMethod the imprint was taken with C14N 1.0.
    method = method_el[0].get("Algorithm") if method_el else C14N_1_0
    if method not in SUPPORTED_C14N:
        raise _unsupported(f"timestamp canonicalization {method}")
    tokens = stamp.findall(f"{_XA}EncapsulatedTimeStamp")
    if len(tokens) != 1:
        raise _unsupported(f"{len(tokens)} EncapsulatedTimeStamp elements (exactly one)")
    if tokens[0].get("Encoding") not in (None, _DER_ENCODING):
        raise _unsupported(f"timestamp encoding {tokens[0].get('Encoding')}")
    try:
        der = base64.b64decode("".join((tokens[0].text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("EncapsulatedTimeStamp is not base64") from exc
    return method, der


def read_signature_timestamp(signature: etree._Element) -> SignatureTimestamp | None:
    """The signature's XAdES SignatureTimeStamp, checked, or None when it has none.

    Checks (:func:`agent.signing.timestamps.open_token`) that the token is an RFC 3161 token
    whose CMS signature is intact (pyHanko), whose message imprint is the hash of this
    signature's canonical SignatureValue and whose genTime is not in the future. Raises
    SIGNATURE_INVALID (tampered token, SignatureValue changed after stamping, a token moved
    from another signature) or XML_SIGNATURE_UNSUPPORTED (a shape or hash Kyso does not read).
    """
    stamp = _stamp_element(signature)
    if stamp is None:
        return None
    method, der = _token_bytes(stamp)
    value = signature.find(f"{_DS}SignatureValue")
    if value is None:
        raise _invalid("no SignatureValue")
    try:
        opened = open_token(
            der,
            lambda name: hashlib.new(name, c14n_bytes(value, method)).digest(),
            # The token's own digest: any hashlib knows (as before: old authorities sign with
            # SHA-1); the imprint: the hashes Kyso asks for.
            digest_allowed=lambda name: name in hashlib.algorithms_available,
            imprint_allowed=lambda name: name in _IMPRINT_HASHES,
        )
    except TokenRefused as exc:
        if exc.fault == "hash":
            raise _unsupported(f"timestamp hash {exc.detail}") from exc
        if exc.fault == "imprint":
            raise _invalid("the signature timestamp was not made over this SignatureValue") from exc
        if exc.fault == "future":
            raise _invalid(f"the signature timestamp: {exc.detail}") from exc
        raise _invalid(f"the timestamp token is not sound ({exc.detail})") from exc
    return SignatureTimestamp(
        gen_time=opened.gen_time,
        tsa_name=opened.tsa_name,
        tsa_certificate=opened.certificate,
        other_certificates=opened.other_certificates,
        hash_name=opened.hash_name,
        c14n=method,
        policy=opened.policy,
        serial_number=opened.serial_number,
    )


def validate_authority(stamp: SignatureTimestamp, trust: TrustStore) -> CertificateInfo:
    """The authority's certificate must chain to ``trust`` at the token's genTime and be a
    timestamping certificate (:func:`agent.signing.timestamps.validate_authority`)."""
    from agent.signing.timestamps import validate_authority as validate

    return validate(
        stamp.tsa_certificate, stamp.other_certificates, stamp.gen_time, stamp.tsa_name, trust
    )
