"""What a person and a portal need to know about a certificate. Pure logic, no I/O.

cryptography is imported by the functions that parse (not by this module), so code that only
passes a :class:`CertificateInfo` around does not load it.

Vietnamese certificates carry the unit's identifiers in the subject: ``UID=MST:0101234567``
(tax code), ``MST:0101234567-001`` (a branch), ``CCCD:``/``CMND:`` (citizen / old identity
card), ``MNS:`` (budget-unit code). Some CAs put ``MST:...`` in ``O=`` or ``CN=`` instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

_PERSONAL_IDS = frozenset({"CCCD", "CMND", "HC"})
_UNIT_IDS = frozenset({"MST", "MNS"})
_ID_PATTERN = re.compile(r"\b(MST|CCCD|CMND|MNS|HC)\s*[:=]\s*([0-9A-Za-z-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class VietnameseIds:
    """Identifiers found in a subject (each None when absent)."""

    mst: str | None = None
    cccd: str | None = None
    cmnd: str | None = None
    mns: str | None = None
    passport: str | None = None


def parse_identifiers(name: x509.Name) -> VietnameseIds:
    """Find MST/CCCD/CMND/MNS in UID first, then in O and CN where some CAs put them.

    A person's certificate (a CCCD, CMND or passport number in UID, O or CN) may name the
    employer's MST in O= or CN=: that makes it a person's who works there, never the unit's
    own certificate, so that MST is not the certificate's. Only an MST (or MNS) in UID itself
    makes a certificate the unit's whatever else its subject names."""
    from cryptography.x509.oid import NameOID

    by_place: list[tuple[bool, str, str]] = []  # (in UID, kind, identifier), in reading order
    for oid in (NameOID.USER_ID, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        for attr in name.get_attributes_for_oid(oid):
            value = attr.value if isinstance(attr.value, str) else attr.value.decode()
            for kind, ident in _ID_PATTERN.findall(value):
                by_place.append((oid == NameOID.USER_ID, kind.upper(), ident))
    unit_in_uid = any(in_uid and kind in _UNIT_IDS for in_uid, kind, _ in by_place)
    person = not unit_in_uid and any(kind in _PERSONAL_IDS for _, kind, _ in by_place)
    found: dict[str, str] = {}
    for in_uid, kind, ident in by_place:
        if not (person and not in_uid and kind in _UNIT_IDS):
            found.setdefault(kind, ident)
    return VietnameseIds(
        mst=found.get("MST"),
        cccd=found.get("CCCD"),
        cmnd=found.get("CMND"),
        mns=found.get("MNS"),
        passport=found.get("HC"),
    )


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode()


def display_name(name: x509.Name) -> str:
    """A readable one-line name: CN, then O, then L, with the identifiers."""
    from cryptography.x509.oid import NameOID

    parts = [
        v
        for v in (
            _first(name, NameOID.COMMON_NAME),
            _first(name, NameOID.ORGANIZATION_NAME),
            _first(name, NameOID.LOCALITY_NAME),
        )
        if v
    ]
    return ", ".join(dict.fromkeys(parts)) or name.rfc4514_string()


@dataclass(frozen=True)
class CertificateInfo:
    """A parsed certificate: everything the UI, the CLI and the protocol show."""

    thumbprint: str  # SHA-256 of the DER, lowercase hex
    subject: str  # RFC 4514
    subject_cn: str | None
    subject_o: str | None
    subject_display: str
    issuer: str
    issuer_cn: str | None
    serial: str  # hex
    not_before: str  # ISO 8601 UTC
    not_after: str
    key_type: str  # RSA or EC
    key_size: int
    curve: str | None
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    is_ca: bool
    mst: str | None
    cccd: str | None
    cmnd: str | None
    mns: str | None
    der: bytes = field(repr=False, compare=False)

    def problems(self, now: dt.datetime | None = None) -> list[str]:
        """Stable problem codes a person should know before signing with this certificate."""
        now = now or dt.datetime.now(dt.UTC)
        not_before, not_after, lasting = self._facts
        out = []
        # The validity window is compared with the time at every call: a certificate that
        # expires while the agent runs is refused from that moment.
        if now < not_before:
            out.append("NOT_YET_VALID")
        if now > not_after:
            out.append("EXPIRED")
        out.extend(lasting)
        return out

    @functools.cached_property
    def _facts(self) -> tuple[dt.datetime, dt.datetime, tuple[str, ...]]:
        # What problems() needs that never changes for one certificate, read once (every
        # signature asks several times): its validity bounds, and the problems that do not
        # depend on the time.
        lasting: tuple[str, ...] = ()
        if self.is_ca:
            lasting = ("CA_CERTIFICATE",)
        elif self.key_usage and not {"digital_signature", "content_commitment"} & set(
            self.key_usage
        ):
            lasting = ("NO_SIGNING_KEY_USAGE",)
        elif self.extended_key_usage and set(self.extended_key_usage) <= NOT_FOR_DOCUMENTS:
            lasting = ("NO_SIGNING_KEY_USAGE",)  # a TLS, time-stamping or code certificate
        start = dt.datetime.fromisoformat(self.not_before)
        return start, dt.datetime.fromisoformat(self.not_after), lasting

    @property
    def certificate(self) -> x509.Certificate:
        """The cryptography object, parsed again on demand (kept out of the frozen fields)."""
        from cryptography import x509

        return x509.load_der_x509_certificate(self.der)

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly form (DER omitted; callers add base64 where they need it)."""
        data = asdict(self)
        data.pop("der")
        data["key_usage"] = list(self.key_usage)
        data["extended_key_usage"] = list(self.extended_key_usage)
        data["problems"] = self.problems()
        return data


_KU_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
# Extended key usages by OID (RFC 5280 §4.2.1.12): dotted strings, so that the table needs no
# cryptography at import.
_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.2": "client_auth",
    "1.3.6.1.5.5.7.3.4": "email_protection",
    "1.3.6.1.5.5.7.3.3": "code_signing",
    "1.3.6.1.5.5.7.3.1": "server_auth",
    "1.3.6.1.5.5.7.3.8": "time_stamping",
    "1.3.6.1.5.5.7.3.9": "ocsp_signing",
}
# Extended key usages that never sign a document: a certificate restricted to these only is a
# server's, a time-stamping unit's, an OCSP responder's or a code signer's (the names are
# asn1crypto's, which agent.signing.trust reads too). Any other usage (client_auth,
# email_protection, document signing, any) keeps it usable, as Vietnamese CAs issue them.
NOT_FOR_DOCUMENTS = frozenset({"server_auth", "time_stamping", "ocsp_signing", "code_signing"})


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def parse_certificate(der: bytes) -> CertificateInfo:
    """Everything Kyso shows about a DER certificate (cached: the same few certificates are
    read at every listing and every signature)."""
    return _parse_certificate(bytes(der))


@functools.lru_cache(maxsize=256)
def _parse_certificate(der: bytes) -> CertificateInfo:
    """Parse a DER certificate into a :class:`CertificateInfo`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    public_key = cert.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        key_type, key_size, curve = "RSA", public_key.key_size, None
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        key_type, key_size, curve = "EC", public_key.curve.key_size, public_key.curve.name
    else:
        key_type, key_size, curve = type(public_key).__name__, 0, None
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        usages = tuple(n for n in _KU_NAMES if getattr(ku, n))
    except x509.ExtensionNotFound:
        usages = ()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ext_usages = tuple(_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in eku)
    except x509.ExtensionNotFound:
        ext_usages = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    ids = parse_identifiers(cert.subject)
    return CertificateInfo(
        thumbprint=cert.fingerprint(hashes.SHA256()).hex(),
        subject=cert.subject.rfc4514_string(),
        subject_cn=_first(cert.subject, NameOID.COMMON_NAME),
        subject_o=_first(cert.subject, NameOID.ORGANIZATION_NAME),
        subject_display=display_name(cert.subject),
        issuer=cert.issuer.rfc4514_string(),
        issuer_cn=_first(cert.issuer, NameOID.COMMON_NAME),
        serial=format(cert.serial_number, "x"),
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        key_usage=usages,
        extended_key_usage=ext_usages,
        is_ca=is_ca,
        mst=ids.mst,
        cccd=ids.cccd,
        cmnd=ids.cmnd,
        mns=ids.mns,
        der=der,
    )
