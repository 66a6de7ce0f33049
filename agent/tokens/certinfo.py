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
    """Identifiers found in a subject (each None when absent, or when ambiguous)."""

    mst: str | None = None
    cccd: str | None = None
    cmnd: str | None = None
    mns: str | None = None
    passport: str | None = None
    # (kind, value) for each kind ("MST", "CCCD", ...) the subject gives two different values
    # for, every value in reading order: that kind's field is None, since nobody can tell
    # which one the certificate stands for.
    ambiguous: tuple[tuple[str, str], ...] = ()


def parse_identifiers(name: x509.Name) -> VietnameseIds:
    """Find MST/CCCD/CMND/MNS in UID first, then in O and CN where some CAs put them.

    A person's certificate (a CCCD, CMND or passport number in UID, O or CN) may name the
    employer's MST in O= or CN=: that makes it a person's who works there, never the unit's
    own certificate, so that MST is not the certificate's. Only an MST (or MNS) in UID itself
    makes a certificate the unit's whatever else its subject names.

    Two different values of one kind (two ``UID=MST:``, or one MST in UID and another in CN)
    make that identifier None and list them in ``ambiguous``: Kyso showed the first one,
    while the RFC 4514 subject and other software may show the other (the same value twice
    is one value)."""
    from cryptography.x509.oid import NameOID

    by_place: list[tuple[bool, str, str]] = []  # (in UID, kind, identifier), in reading order
    for oid in (NameOID.USER_ID, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        for attr in name.get_attributes_for_oid(oid):
            value = attr.value if isinstance(attr.value, str) else attr.value.decode()
            for kind, ident in _ID_PATTERN.findall(value):
                by_place.append((oid == NameOID.USER_ID, kind.upper(), ident))
    unit_in_uid = any(in_uid and kind in _UNIT_IDS for in_uid, kind, _ in by_place)
    person = not unit_in_uid and any(kind in _PERSONAL_IDS for _, kind, _ in by_place)
    values: dict[str, dict[str, None]] = {}  # kind -> its values, each once, in reading order
    for in_uid, kind, ident in by_place:
        if not (person and not in_uid and kind in _UNIT_IDS):
            values.setdefault(kind, {})[ident] = None
    if "MST" in values:  # a branch's MST (in UID) beside its company's: the branch's certificate
        uid_msts = {ident for uid, kind, ident in by_place if uid and kind == "MST"}
        values["MST"] = dict.fromkeys(_without_parents(list(values["MST"]), uid_msts))
    found = {kind: next(iter(v)) for kind, v in values.items() if len(v) == 1}
    return VietnameseIds(
        mst=found.get("MST"),
        cccd=found.get("CCCD"),
        cmnd=found.get("CMND"),
        mns=found.get("MNS"),
        passport=found.get("HC"),
        ambiguous=tuple((k, ident) for k, v in sorted(values.items()) if len(v) > 1 for ident in v),
    )


def _without_parents(msts: list[str], in_uid: set[str]) -> list[str]:
    """``msts`` without a company's MST (ten digits) when its branch's (the same and ``-NNN``)
    is there too and stands in UID, where the CA writes the certificate's own: one unit, the
    branch. A branch number in free text (O, CN) never overrules the UID's."""
    return [
        mst
        for mst in msts
        if not (
            re.fullmatch(r"\d{10}", mst)
            and any(re.fullmatch(re.escape(mst) + r"-\d{3}", other) for other in in_uid)
        )
    ]


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
    # Critical extensions (dotted OIDs) outside HANDLED_CRITICAL_EXTENSIONS: verifiers refuse
    # the certificate, so whatever it signs.
    unhandled_critical_extensions: tuple[str, ...] = ()
    # (kind, value) of the identifiers the subject names twice with different values
    # (VietnameseIds.ambiguous): those kinds' fields are None.
    ambiguous_ids: tuple[tuple[str, str], ...] = ()

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

    def warnings(self) -> list[str]:
        """Stable codes of what the user must be told but that does not stop signing:
        ``AMBIGUOUS_IDENTIFIER`` (two different MSTs, CCCDs... in the subject; the
        identifier is None, so no document's MST can match it)."""
        return ["AMBIGUOUS_IDENTIFIER"] if self.ambiguous_ids else []

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
        if not self.is_ca and self.unhandled_critical_extensions:
            # OpenSSL ("unhandled critical extension") and pyhanko-certvalidator (Kyso's own
            # verifiers, the portal's) refuse the certificate: a signature would look made
            # and be worth nothing.
            lasting += ("UNSUPPORTED_CRITICAL_EXTENSION",)
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
        for internal in ("der", "unhandled_critical_extensions", "ambiguous_ids"):
            data.pop(internal)  # the problem codes say it; the protocol's fields stay as they are
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
# Extensions a verifier handles when an end-entity certificate marks them critical: those both
# OpenSSL (X509_supported_extension: what `openssl cms -verify` accepts) and
# pyhanko-certvalidator (SUPPORTED_EXTENSIONS: Kyso's verify-cms, verify-xml, verify-pdf and
# the portal) accept. Any other critical extension makes one of them refuse the certificate.
# Left out on purpose: authority/subject key identifier, authority information access,
# freshest CRL and qcStatements (certvalidator takes them, OpenSSL refuses them; RFC 5280 and
# ETSI say they are never critical), Netscape cert type (OpenSSL only).
# tests/tokens/test_certinfo_critical.py checks this list against both verifiers.
HANDLED_CRITICAL_EXTENSIONS = frozenset(
    {
        "2.5.29.15",  # key usage
        "2.5.29.19",  # basic constraints
        "2.5.29.37",  # extended key usage
        "2.5.29.17",  # subject alternative name
        "2.5.29.32",  # certificate policies
        "2.5.29.31",  # CRL distribution points
        "2.5.29.30",  # name constraints
        "2.5.29.33",  # policy mappings
        "2.5.29.36",  # policy constraints
        "2.5.29.54",  # inhibit anyPolicy
        "1.3.6.1.5.5.7.48.1.5",  # OCSP no check
    }
)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def parse_certificate(der: bytes) -> CertificateInfo:
    """Everything Kyso shows about a DER certificate (cached: the same few certificates are
    read at every listing and every signature). ValueError for anything unreadable."""
    from cryptography import x509

    try:
        return _parse_certificate(bytes(der))
    except (x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        # Not ValueErrors, though they too mean "this certificate cannot be read" (two
        # KeyUsage extensions, say): callers reading a token's or a service's certificates
        # catch ValueError to skip one, and must not crash on these. (UnsupportedAlgorithm
        # stays itself: the token listing names that reason.)
        raise ValueError(f"unreadable certificate ({type(exc).__name__})") from exc


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
    unhandled = tuple(
        sorted(
            {
                ext.oid.dotted_string
                for ext in cert.extensions
                if ext.critical and ext.oid.dotted_string not in HANDLED_CRITICAL_EXTENSIONS
            }
        )
    )
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
        unhandled_critical_extensions=unhandled,
        ambiguous_ids=ids.ambiguous,
    )
