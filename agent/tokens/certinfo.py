"""What a person and a portal need to know about a certificate. Pure logic, no I/O.

Certificates are read with asn1crypto, which python-pkcs11 has already loaded: a command-line
signature (``kyso-agent sign-xml``) then never loads cryptography, about 11 MB of resident
memory (``bench/xml_sign.py``). cryptography's reading is the reference: a certificate of an
unusual shape (a string type other than UTF8/Printable/IA5/BMP, a key other than RSA or a named
NIST/Brainpool curve, a repeated extension, anything asn1crypto cannot read) is read by
cryptography instead, and ``tests/tokens/test_certinfo_reader.py`` holds the two readings equal.

Vietnamese certificates carry the unit's identifiers in the subject: ``UID=MST:0101234567``
(tax code), ``MST:0101234567-001`` (a branch), ``CCCD:``/``CMND:`` (citizen / old identity
card), ``MNS:`` (budget-unit code). Some CAs put ``MST:...`` in ``O=`` or ``CN=`` instead.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

_ID_PATTERN = re.compile(r"\b(MST|CCCD|CMND|MNS|HC)\s*[:=]\s*([0-9A-Za-z-]+)", re.IGNORECASE)

# A distinguished name as read from the certificate: RDN by RDN in DER order, each a tuple of
# (dotted OID, value); a value is text, or bytes for a non-string attribute.
NameParts = tuple[tuple[tuple[str, str | bytes], ...], ...]

_CN, _O, _L, _UID = "2.5.4.3", "2.5.4.10", "2.5.4.7", "0.9.2342.19200300.100.1.1"
# RFC 4514 short names, exactly those cryptography's Name.rfc4514_string() uses.
_SHORT_NAMES = {
    _CN: "CN",
    _L: "L",
    "2.5.4.8": "ST",
    _O: "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    _UID: "UID",
}


@dataclass(frozen=True)
class VietnameseIds:
    """Identifiers found in a subject (each None when absent)."""

    mst: str | None = None
    cccd: str | None = None
    cmnd: str | None = None
    mns: str | None = None
    passport: str | None = None


def _values(name: NameParts, oid: str) -> list[str]:
    return [
        value if isinstance(value, str) else value.decode(errors="replace")
        for rdn in name
        for attr_oid, value in rdn
        if attr_oid == oid
    ]


def _identifiers(name: NameParts) -> VietnameseIds:
    found: dict[str, str] = {}
    for oid in (_UID, _O, _CN):
        for value in _values(name, oid):
            for kind, ident in _ID_PATTERN.findall(value):
                found.setdefault(kind.upper(), ident)
    return VietnameseIds(
        mst=found.get("MST"),
        cccd=found.get("CCCD"),
        cmnd=found.get("CMND"),
        mns=found.get("MNS"),
        passport=found.get("HC"),
    )


def _first(name: NameParts, oid: str) -> str | None:
    values = _values(name, oid)
    return values[0] if values else None


def _display(name: NameParts) -> str:
    parts = [v for v in (_first(name, _CN), _first(name, _O), _first(name, _L)) if v]
    return ", ".join(dict.fromkeys(parts)) or _rfc4514(name)


def _escape(value: str | bytes) -> str:
    """RFC 4514 §2.4 escaping, character for character as cryptography does it."""
    if not value:
        return ""
    if isinstance(value, bytes):
        return "#" + binascii.hexlify(value).decode()
    for char, escaped in (
        ("\\", "\\\\"),
        ('"', '\\"'),
        ("+", "\\+"),
        (",", "\\,"),
        (";", "\\;"),
        ("<", "\\<"),
        (">", "\\>"),
        ("\0", "\\00"),
    ):
        value = value.replace(char, escaped)
    if value[0] == "#" or (value[0] == " " and len(value) > 1):
        value = "\\" + value
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    return value


def _rfc4514(name: NameParts) -> str:
    """The name as RFC 4514 text: last RDN first, multi-valued RDNs joined with "+"."""
    return ",".join(
        "+".join(f"{_SHORT_NAMES.get(oid, oid)}={_escape(value)}" for oid, value in rdn)
        for rdn in reversed(name)
    )


def _parts_of(name: x509.Name) -> NameParts:
    return tuple(tuple((attr.oid.dotted_string, attr.value) for attr in rdn) for rdn in name.rdns)


def parse_identifiers(name: x509.Name) -> VietnameseIds:
    """Find MST/CCCD/CMND/MNS in UID first, then in O and CN where some CAs put them."""
    return _identifiers(_parts_of(name))


def display_name(name: x509.Name) -> str:
    """A readable one-line name: CN, then O, then L, with the identifiers."""
    return _display(_parts_of(name))


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
        out = []
        if now < dt.datetime.fromisoformat(self.not_before):
            out.append("NOT_YET_VALID")
        if now > dt.datetime.fromisoformat(self.not_after):
            out.append("EXPIRED")
        if self.is_ca:
            out.append("CA_CERTIFICATE")
        elif self.key_usage and not {"digital_signature", "content_commitment"} & set(
            self.key_usage
        ):
            out.append("NO_SIGNING_KEY_USAGE")
        return out

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
}


@dataclass(frozen=True)
class _Read:
    """What either reader takes out of the DER; :func:`_info` makes the rest."""

    subject: NameParts
    issuer: NameParts
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str
    key_size: int
    curve: str | None
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    is_ca: bool


def parse_certificate(der: bytes) -> CertificateInfo:
    """Everything Kyso shows about a DER certificate (cached: the same few certificates are
    read at every listing and every signature). Raises ValueError when it is not one."""
    return _parse_certificate(bytes(der))


@functools.lru_cache(maxsize=256)
def _parse_certificate(der: bytes) -> CertificateInfo:
    read = _read_with_asn1crypto(der) or _read_with_cryptography(der)
    return _info(der, read)


def _info(der: bytes, read: _Read) -> CertificateInfo:
    ids = _identifiers(read.subject)
    return CertificateInfo(
        thumbprint=hashlib.sha256(der).hexdigest(),
        subject=_rfc4514(read.subject),
        subject_cn=_first(read.subject, _CN),
        subject_o=_first(read.subject, _O),
        subject_display=_display(read.subject),
        issuer=_rfc4514(read.issuer),
        issuer_cn=_first(read.issuer, _CN),
        serial=format(read.serial, "x"),
        not_before=read.not_before.astimezone(dt.UTC).isoformat(),
        not_after=read.not_after.astimezone(dt.UTC).isoformat(),
        key_type=read.key_type,
        key_size=read.key_size,
        curve=read.curve,
        key_usage=read.key_usage,
        extended_key_usage=read.extended_key_usage,
        is_ca=read.is_ca,
        mst=ids.mst,
        cccd=ids.cccd,
        cmnd=ids.cmnd,
        mns=ids.mns,
        der=der,
    )


# Named curves by OID, with the names and sizes cryptography gives them.
_CURVES = {
    "1.2.840.10045.3.1.7": ("secp256r1", 256),
    "1.3.132.0.34": ("secp384r1", 384),
    "1.3.132.0.35": ("secp521r1", 521),
    "1.3.36.3.3.2.8.1.1.7": ("brainpoolP256r1", 256),
    "1.3.36.3.3.2.8.1.1.11": ("brainpoolP384r1", 384),
    "1.3.36.3.3.2.8.1.1.13": ("brainpoolP512r1", 512),
}
# Directory string types read here (tag → codec); any other goes to cryptography.
_STRING_CODECS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x1E: "utf-16-be"}
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
# asn1crypto calls content_commitment by its older name.
_KU_ASN1CRYPTO = {"non_repudiation": "content_commitment"}


class _Unusual(Exception):
    """A shape this reader leaves to cryptography."""


def _read_with_asn1crypto(der: bytes) -> _Read | None:
    """The usual certificate, read with asn1crypto; None for anything else."""
    from asn1crypto import x509 as asn1

    if not _der_shaped(der):
        return None  # BER: cryptography accepts DER only, and its refusal must stand
    try:
        cert = asn1.Certificate.load(der, strict=True)
        extensions = cert["tbs_certificate"]["extensions"]
        ids = [ext["extn_id"].dotted for ext in extensions]
        if len(set(ids)) != len(ids):
            raise _Unusual("an extension repeated")  # cryptography refuses: keep its error
        # The DER inside the extensions read here, and inside the public key.
        for ext in extensions:
            if ext["extn_id"].dotted in _READ_EXTENSIONS and not _der_shaped(
                ext["extn_value"].contents
            ):
                raise _Unusual("BER inside an extension")
        key_type, key_size, curve = _key_of(cert.public_key)
        serial = cert.serial_number
        not_before, not_after = cert.not_valid_before, cert.not_valid_after
        if serial < 0 or not all(type(t) is dt.datetime for t in (not_before, not_after)):
            raise _Unusual("a negative serial or a time outside datetime")
        usage = cert.key_usage_value
        eku = cert.extended_key_usage_value
        constraints = cert.basic_constraints_value
        return _Read(
            subject=_name_parts(cert.subject),
            issuer=_name_parts(cert.issuer),
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            key_type=key_type,
            key_size=key_size,
            curve=curve,
            key_usage=()
            if usage is None
            else tuple(
                n for n in _KU_NAMES if n in {_KU_ASN1CRYPTO.get(u, u) for u in usage.native}
            ),
            extended_key_usage=()
            if eku is None
            else tuple(_EKU_NAMES.get(p.dotted, p.dotted) for p in eku),
            is_ca=bool(constraints is not None and constraints["ca"].native),
        )
    except (_Unusual, ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


# Key usage, extended key usage, basic constraints: the extensions this reader reads.
_READ_EXTENSIONS = frozenset({"2.5.29.15", "2.5.29.37", "2.5.29.19"})
# Universal tags that DER allows constructed: SEQUENCE and SET (BER also allows strings).
_CONSTRUCTED_UNIVERSAL = frozenset({0x30, 0x31})


def _der_shaped(der: bytes) -> bool:
    """True when every element has a definite, shortest-form length, single-byte tags, and only
    SEQUENCE/SET (or tagged) elements are constructed: the DER framing rules asn1crypto does not
    enforce (it also reads BER). Values are checked where they are read."""
    stack = [(0, len(der))]
    while stack:
        offset, end = stack.pop()
        while offset < end:
            if end - offset < 2:
                return False
            tag, first = der[offset], der[offset + 1]
            if tag & 0x1F == 0x1F:
                return False  # multi-byte tag numbers: none in a certificate
            offset += 2
            if first < 0x80:
                length = first
            else:
                size = first & 0x7F
                if size == 0 or size > 4 or end - offset < size or der[offset] == 0:
                    return False  # indefinite (BER), too long, or padded with zeros
                length = int.from_bytes(der[offset : offset + size], "big")
                if length < 0x80:
                    return False  # the long form where the short one fits
                offset += size
            if end - offset < length:
                return False
            if tag & 0x20:
                if tag & 0xC0 == 0 and tag not in _CONSTRUCTED_UNIVERSAL:
                    return False  # a constructed string: BER only
                stack.append((offset, offset + length))
            offset += length
    return True


def _key_of(public_key: Any) -> tuple[str, int, str | None]:
    algorithm = public_key["algorithm"]["algorithm"].dotted
    if algorithm == "1.2.840.113549.1.1.1":  # rsaEncryption
        if not _der_shaped(public_key["public_key"].contents[1:]):  # after the unused-bits byte
            raise _Unusual("BER inside the RSA key")
        modulus = public_key["public_key"].parsed["modulus"].native
        if modulus <= 0:
            raise _Unusual("a malformed RSA key")
        return "RSA", modulus.bit_length(), None
    if algorithm == "1.2.840.10045.2.1":  # id-ecPublicKey
        parameters = public_key["algorithm"]["parameters"]
        if parameters.name != "named":
            raise _Unusual("explicit curve parameters")
        curve = _CURVES.get(parameters.chosen.dotted)
        if curve is None:
            raise _Unusual("a curve cryptography names differently")
        return "EC", curve[1], curve[0]
    raise _Unusual("neither RSA nor EC")


def _name_parts(name: Any) -> NameParts:
    return tuple(
        tuple((atv["type"].dotted, _string(atv["value"].dump())) for atv in rdn)
        for rdn in name.chosen
    )


def _string(tlv: bytes) -> str:
    """A directory string's text, from its DER (tag, length, contents)."""
    codec = _STRING_CODECS.get(tlv[0])
    if codec is None:
        raise _Unusual("a string type read only by cryptography")
    length = tlv[1]
    offset = 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(tlv[2 : 2 + size], "big")
        offset = 2 + size
    text = tlv[offset : offset + length].decode(codec)
    if tlv[0] == 0x13 and not _PRINTABLE.issuperset(text):
        raise _Unusual("a PrintableString with other characters")
    return text


def _read_with_cryptography(der: bytes) -> _Read:
    """The reference reading (and every shape the asn1crypto reader leaves alone)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

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
    return _Read(
        subject=_parts_of(cert.subject),
        issuer=_parts_of(cert.issuer),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        key_usage=usages,
        extended_key_usage=ext_usages,
        is_ca=is_ca,
    )
