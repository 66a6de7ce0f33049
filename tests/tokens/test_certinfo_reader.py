"""The asn1crypto certificate reader against cryptography's reading, field for field.

agent.tokens.certinfo reads certificates with asn1crypto (already loaded with python-pkcs11), so
that signing from the command line never loads cryptography; any shape it leaves alone goes to
cryptography. These tests hold the two readings equal over certificates of every shape a CA or a
token could hand us, and the subject/issuer text equal to cryptography's own
``Name.rfc4514_string()``: the audit log, the consent and XML KeyInfo show that text.
"""

from __future__ import annotations

import datetime as dt
import glob
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.tokens import certinfo
from agent.tokens.certinfo import parse_certificate

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_ISSUER_KEY = ec.generate_private_key(ec.SECP256R1())
_RSA = rsa.generate_private_key(65537, 1024)  # small and fast: only the reading matters


def _attr(
    oid: x509.ObjectIdentifier, value: str, kind: _ASN1Type | None = None
) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value, _type=kind) if kind else x509.NameAttribute(oid, value)


# Subjects: every character RFC 4514 escapes, where it is escaped, every short name, OIDs
# without one, multi-valued RDNs, and each directory string type.
SUBJECTS: dict[str, x509.Name] = {
    "vietnamese": x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "VN"),
            _attr(NameOID.STATE_OR_PROVINCE_NAME, "Hà Nội"),
            _attr(NameOID.LOCALITY_NAME, "Quận Ba Đình"),
            _attr(NameOID.ORGANIZATION_NAME, "Công ty TNHH Giải pháp Kyso Việt Nam"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "Phòng Kế toán"),
            _attr(NameOID.COMMON_NAME, "Công ty TNHH Giải pháp Kyso Việt Nam"),
            _attr(NameOID.USER_ID, "MST:0101234567"),
        ]
    ),
    "escapes": x509.Name(
        [
            _attr(NameOID.COMMON_NAME, 'a\\b"c+d,e;f<g>h'),
            _attr(NameOID.ORGANIZATION_NAME, "#leading hash"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, " leading and trailing space "),
            _attr(NameOID.LOCALITY_NAME, "nul\0inside"),
            _attr(NameOID.STREET_ADDRESS, "12 Phố Huế, Hai Bà Trưng"),
            _attr(NameOID.STATE_OR_PROVINCE_NAME, " "),
        ]
    ),
    "oids_without_short_names": x509.Name(
        [
            _attr(NameOID.EMAIL_ADDRESS, "ketoan@kyso.example"),
            _attr(NameOID.SERIAL_NUMBER, "CCCD:001190012345"),
            _attr(NameOID.TITLE, "Giám đốc"),
            _attr(NameOID.GIVEN_NAME, "Văn A"),
            _attr(NameOID.SURNAME, "Nguyễn"),
            _attr(x509.ObjectIdentifier("1.2.3.4.5"), "private OID"),
            _attr(NameOID.DOMAIN_COMPONENT, "kyso"),
            _attr(NameOID.DOMAIN_COMPONENT, "example"),
        ]
    ),
    "multi_valued_rdn": x509.Name(
        [
            x509.RelativeDistinguishedName([_attr(NameOID.COUNTRY_NAME, "VN")]),
            x509.RelativeDistinguishedName(
                [
                    _attr(NameOID.COMMON_NAME, "Trần Thị B"),
                    _attr(NameOID.USER_ID, "CCCD:001190012345"),
                    _attr(NameOID.ORGANIZATION_NAME, "Hộ kinh doanh C - MST:8012345678"),
                ]
            ),
        ]
    ),
    "string_types": x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "VN", _ASN1Type.PrintableString),
            _attr(NameOID.ORGANIZATION_NAME, "Công ty BMP", _ASN1Type.BMPString),
            _attr(NameOID.COMMON_NAME, "ia5 name", _ASN1Type.IA5String),
            _attr(NameOID.LOCALITY_NAME, "Printable (ok) +-./:=?", _ASN1Type.PrintableString),
            _attr(NameOID.USER_ID, "MST:0109876543", _ASN1Type.UTF8String),
        ]
    ),
    # Types only cryptography reads here: the reader must hand these over, not guess.
    "teletex": x509.Name([_attr(NameOID.COMMON_NAME, "T61 caf\xe9", _ASN1Type.T61String)]),
    "universal": x509.Name([_attr(NameOID.COMMON_NAME, "Hội đồng", _ASN1Type.UniversalString)]),
    "visible": x509.Name([_attr(NameOID.COMMON_NAME, "visible", _ASN1Type.VisibleString)]),
    "empty": x509.Name([]),
}

KEYS = {
    "rsa-1024": _RSA,
    "rsa-1025": rsa.generate_private_key(65537, 1025),  # a modulus not a multiple of 8
    "p256": ec.generate_private_key(ec.SECP256R1()),
    "p384": ec.generate_private_key(ec.SECP384R1()),
    "p521": ec.generate_private_key(ec.SECP521R1()),
    "brainpool256": ec.generate_private_key(ec.BrainpoolP256R1()),
    "secp256k1": ec.generate_private_key(ec.SECP256K1()),  # handed to cryptography
    "ed25519": ed25519.Ed25519PrivateKey.generate(),  # handed to cryptography
}

_ALL_USAGES = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ),
    False,
)


def _build(
    subject: x509.Name,
    key: object = _RSA,
    *,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    serial: int = 0x0ABCDEF0123456789,
    start: dt.datetime = START,
    end: dt.datetime | None = None,
    issuer: x509.Name | None = None,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else SUBJECTS["vietnamese"])
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end or start + dt.timedelta(days=365))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(_ISSUER_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _corpus() -> Iterator[tuple[str, bytes]]:
    for name, subject in SUBJECTS.items():
        yield f"subject-{name}", _build(subject, issuer=subject if name != "empty" else None)
    for name, key in KEYS.items():
        yield f"key-{name}", _build(SUBJECTS["vietnamese"], key)
    usages = [
        {"digital_signature": True},
        {"digital_signature": True, "content_commitment": True, "key_encipherment": True},
        {"content_commitment": True},
        {"key_cert_sign": True, "crl_sign": True},
        {"key_agreement": True, "encipher_only": True},
        {"data_encipherment": True, "key_agreement": True, "decipher_only": True},
    ]
    for i, usage in enumerate(usages):
        ku = x509.KeyUsage(**{**_ALL_USAGES, **usage})
        yield f"key-usage-{i}", _build(SUBJECTS["vietnamese"], extensions=((ku, True),))
    eku = x509.ExtendedKeyUsage(
        [
            ExtendedKeyUsageOID.CLIENT_AUTH,
            ExtendedKeyUsageOID.EMAIL_PROTECTION,
            ExtendedKeyUsageOID.CODE_SIGNING,
            ExtendedKeyUsageOID.SERVER_AUTH,
            ExtendedKeyUsageOID.TIME_STAMPING,
            x509.ObjectIdentifier("1.2.3.4"),
        ]
    )
    yield "eku", _build(SUBJECTS["vietnamese"], extensions=((eku, False),))
    for ca in (True, False):
        constraints = x509.BasicConstraints(ca=ca, path_length=0 if ca else None)
        yield f"ca-{ca}", _build(SUBJECTS["vietnamese"], extensions=((constraints, True),))
    yield "serial-1", _build(SUBJECTS["vietnamese"], serial=1)
    yield "serial-160-bit", _build(SUBJECTS["vietnamese"], serial=2**159 - 1)
    # UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
    yield "times-1950", _build(SUBJECTS["vietnamese"], start=dt.datetime(1950, 1, 1, tzinfo=dt.UTC))
    yield (
        "times-2049-2050",
        _build(
            SUBJECTS["vietnamese"],
            start=dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
            end=dt.datetime(2050, 1, 1, tzinfo=dt.UTC),
        ),
    )
    yield (
        "times-9999",
        _build(SUBJECTS["vietnamese"], end=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    )
    for path in sorted(
        glob.glob(str(ROOT / "tests" / "fixtures" / "**" / "*.pem"), recursive=True)
    ):
        data = Path(path).read_bytes()
        if b"CERTIFICATE-----" in data:
            yield f"fixture-{Path(path).name}", pem.unarmor(data)[2]


CORPUS = dict(_corpus())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_both_readers_agree_on_every_field(name: str) -> None:
    der = CORPUS[name]
    by_asn1crypto = certinfo._read_with_asn1crypto(der)
    by_cryptography = certinfo._read_with_cryptography(der)
    if by_asn1crypto is not None:
        assert by_asn1crypto == by_cryptography
    info = parse_certificate(der)
    reference = x509.load_der_x509_certificate(der)
    assert info.subject == reference.subject.rfc4514_string()
    assert info.issuer == reference.issuer.rfc4514_string()
    assert info == certinfo._info(der, by_cryptography)


# Which shapes the asn1crypto reader must read itself (else the memory saving is gone for the
# certificates Vietnamese CAs issue) and which it must hand to cryptography (else it guesses).
HANDED_OVER = {
    "subject-teletex",
    "subject-universal",
    "subject-visible",
    "key-secp256k1",
    "key-ed25519",
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_reader_reads_the_usual_shapes_and_hands_over_the_rest(name: str) -> None:
    read = certinfo._read_with_asn1crypto(CORPUS[name])
    assert (read is None) == (name in HANDED_OVER)


def test_a_repeated_extension_is_left_to_cryptography_and_its_error() -> None:
    der = _build(
        SUBJECTS["vietnamese"],
        extensions=((x509.BasicConstraints(ca=False, path_length=None), True),),
    )
    cert = asn1_x509.Certificate.load(der)
    extensions = cert["tbs_certificate"]["extensions"]
    extensions.append(extensions[0].copy())
    cert["tbs_certificate"]["extensions"] = extensions
    doubled = cert.dump(force=True)
    assert certinfo._read_with_asn1crypto(doubled) is None
    with pytest.raises(x509.DuplicateExtension):
        parse_certificate(doubled)


def _printable_with_an_underscore() -> bytes:
    # cryptography refuses to write it; a CA's buggy software might.
    name = x509.Name([_attr(NameOID.COMMON_NAME, "underXscore", _ASN1Type.PrintableString)])
    return _build(name).replace(b"underXscore", b"under_score")


@pytest.mark.parametrize(
    "der",
    [
        _printable_with_an_underscore(),
        b"",
        b"\x30\x00",
        b"not a certificate at all",
        CORPUS["subject-vietnamese"][:-10],  # truncated
        CORPUS["subject-vietnamese"] + b"\x00",  # trailing bytes
    ],
    ids=["bad-printable-string", "empty", "empty-sequence", "text", "truncated", "trailing-bytes"],
)
def test_what_is_not_a_certificate_is_a_value_error_as_before(der: bytes) -> None:
    assert certinfo._read_with_asn1crypto(der) is None
    with pytest.raises(ValueError):
        parse_certificate(der)


def _ber_forms(der: bytes) -> dict[str, bytes]:
    """The same certificate framed in BER: cryptography (DER only) refuses both."""
    assert der[0] == 0x30 and der[1] == 0x82  # SEQUENCE, two length bytes
    body = der[4:]
    return {
        "length-padded-with-zero": b"\x30\x83\x00" + der[2:4] + body,
        "indefinite-length": b"\x30\x80" + body + b"\x00\x00",
    }


@pytest.mark.parametrize("form", ["length-padded-with-zero", "indefinite-length"])
def test_ber_is_not_read_where_cryptography_refuses_it(form: str) -> None:
    """asn1crypto also reads BER; a certificate cryptography refuses must stay refused, not be
    shown from a lenient reading."""
    ber = _ber_forms(CORPUS["subject-vietnamese"])[form]
    assert certinfo._read_with_asn1crypto(ber) is None
    with pytest.raises(ValueError):
        parse_certificate(ber)
