"""Pure tests of agent.tokens.certinfo: certificates built in memory with cryptography."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.tokens.certinfo import display_name, parse_certificate, parse_identifiers

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _name(**attrs: str) -> x509.Name:
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "CN": NameOID.COMMON_NAME,
        "L": NameOID.LOCALITY_NAME,
        "UID": NameOID.USER_ID,
    }
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


def _cert(
    subject: x509.Name,
    *,
    key=_EC_KEY,
    usage: dict[str, bool] | None = None,
    ca: bool | None = False,
    eku: list[x509.ObjectIdentifier] | None = None,
    start: dt.datetime = NOW - dt.timedelta(days=1),
    days: int = 365,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(_name(CN="Issuing CA Tiếng Việt"))
        .public_key(key.public_key())
        .serial_number(0xABCDEF)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    if usage is not None:
        flags = dict.fromkeys(
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
        builder = builder.add_extension(x509.KeyUsage(**{**flags, **usage}), True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), False)
    cert = builder.sign(_EC_KEY, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (_name(CN="Công ty A", UID="MST:0101234567"), {"mst": "0101234567"}),
        (_name(CN="Chi nhánh", UID="MST:0101234567-001"), {"mst": "0101234567-001"}),
        (_name(CN="Nguyễn Văn A", UID="CCCD:001190012345"), {"cccd": "001190012345"}),
        (_name(CN="Trần Thị B", UID="CMND:012345678"), {"cmnd": "012345678"}),
        (_name(CN="Trường X", UID="MNS:1234567"), {"mns": "1234567"}),
        (_name(O="MST:0109876543", CN="Công ty B"), {"mst": "0109876543"}),  # CA style: O=
        (_name(CN="Hộ kinh doanh C - MST:8012345678"), {"mst": "8012345678"}),  # in CN
        (_name(CN="Không có mã"), {}),
        (_name(CN="lower case", UID="mst: 0101234567"), {"mst": "0101234567"}),
        # A person's certificate naming the employer's MST is never the unit's certificate.
        (
            _name(O="Công ty X (MST:0101234567)", CN="Nguyễn Văn A", UID="CCCD:001190012345"),
            {"cccd": "001190012345"},
        ),
        (_name(CN="Nguyễn Văn A - MST:0101234567", UID="CMND:012345678"), {"cmnd": "012345678"}),
        # ... wherever the person's own number is written: O is read before CN, and one CN may
        # hold both (red team: such a certificate passed as the unit's).
        (
            _name(O="Công ty X MST:0101234567", CN="Nguyễn Văn A CCCD:001190012345"),
            {"cccd": "001190012345"},
        ),
        (_name(CN="Nguyễn Văn A MST:0101234567 CCCD:001190012345"), {"cccd": "001190012345"}),
        (_name(CN="Trần Thị B CMND:012345678", O="MST:0101234567"), {"cmnd": "012345678"}),
        # The unit's own MST in UID keeps it the unit's, whatever else the subject names.
        (
            _name(CN="Công ty A (đại diện CCCD:001190012345)", UID="MST:0101234567"),
            {"mst": "0101234567", "cccd": "001190012345"},
        ),
    ],
)
def test_identifiers_from_uid_o_and_cn(subject, expected):
    ids = parse_identifiers(subject)
    found = {k: getattr(ids, k) for k in ("mst", "cccd", "cmnd", "mns") if getattr(ids, k)}
    assert found == expected


def test_an_mst_in_o_beside_another_in_uid_is_ambiguous():
    """UID used to win silently; other software may read O's (red team 22, F6): see
    tests/tokens/test_certinfo_ambiguous.py. The same MST in both is one MST."""
    ids = parse_identifiers(_name(O="MST:1111111111", CN="X", UID="MST:2222222222"))
    assert (ids.mst, ids.ambiguous) == (None, (("MST", "2222222222"), ("MST", "1111111111")))
    same = parse_identifiers(_name(O="MST:2222222222", CN="X", UID="MST:2222222222"))
    assert (same.mst, same.ambiguous) == ("2222222222", ())


def test_one_subject_can_carry_mst_and_cccd():
    ids = parse_identifiers(_name(CN="Ông D", UID="MST:0101234567 CCCD:001190012345"))
    assert (ids.mst, ids.cccd) == ("0101234567", "001190012345")


def test_display_name_is_cn_then_o_then_l_without_repeats():
    assert display_name(_name(O="Công ty E", CN="Công ty E", L="Hà Nội")) == "Công ty E, Hà Nội"
    assert display_name(_name(C="VN")) == "C=VN"  # nothing readable: the RFC 4514 form


def test_parse_rsa_certificate_fields():
    key = rsa.generate_private_key(65537, 1024)  # small and fast: only the parsing matters
    der = _cert(
        _name(C="VN", O="Công ty F", CN="Công ty F", UID="MST:0101234567"),
        key=key,
        usage={"digital_signature": True, "content_commitment": True},
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH, x509.ObjectIdentifier("1.2.3.4")],
    )
    info = parse_certificate(der)
    assert info.thumbprint == hashlib.sha256(der).hexdigest()
    assert (info.key_type, info.key_size, info.curve) == ("RSA", 1024, None)
    assert info.serial == "abcdef"
    assert info.subject_cn == info.subject_o == "Công ty F"
    assert info.issuer_cn == "Issuing CA Tiếng Việt"
    assert info.key_usage == ("digital_signature", "content_commitment")
    assert info.extended_key_usage == ("client_auth", "1.2.3.4")
    assert info.not_before == (NOW - dt.timedelta(days=1)).isoformat()
    assert info.mst == "0101234567" and info.cccd is None and not info.is_ca
    assert info.certificate.serial_number == 0xABCDEF


def test_parse_ec_certificate_fields():
    info = parse_certificate(_cert(_name(CN="EC", UID="CCCD:001190012345")))
    assert (info.key_type, info.key_size, info.curve) == ("EC", 256, "secp256r1")
    assert info.cccd == "001190012345"


def test_problems_are_judged_at_the_given_time():
    info = parse_certificate(_cert(_name(CN="G"), start=NOW, days=10))
    assert info.problems(NOW + dt.timedelta(days=1)) == []
    assert info.problems(NOW - dt.timedelta(seconds=1)) == ["NOT_YET_VALID"]
    assert info.problems(NOW + dt.timedelta(days=11)) == ["EXPIRED"]


def test_key_usage_problems():
    encipher_only = _cert(_name(CN="H"), usage={"key_encipherment": True})
    assert parse_certificate(encipher_only).problems(NOW) == ["NO_SIGNING_KEY_USAGE"]
    non_repudiation_only = _cert(_name(CN="I"), usage={"content_commitment": True})
    assert parse_certificate(non_repudiation_only).problems(NOW) == []
    no_extension = _cert(_name(CN="J"))  # no KeyUsage at all: nothing restricts signing
    assert parse_certificate(no_extension).problems(NOW) == []
    ca = _cert(_name(CN="K"), ca=True, usage={"key_cert_sign": True, "crl_sign": True})
    assert parse_certificate(ca).problems(NOW) == ["CA_CERTIFICATE"]
    server_auth = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
    tls_only = _cert(_name(CN="M"), usage={"digital_signature": True}, eku=[server_auth])
    assert parse_certificate(tls_only).problems(NOW) == ["NO_SIGNING_KEY_USAGE"]
    client_auth = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
    both = _cert(_name(CN="N"), usage={"digital_signature": True}, eku=[server_auth, client_auth])
    assert parse_certificate(both).problems(NOW) == []
    no_basic_constraints = parse_certificate(_cert(_name(CN="L"), ca=None))
    assert not no_basic_constraints.is_ca


def test_to_json_is_plain_data_without_der():
    import json

    info = parse_certificate(_cert(_name(CN="Công ty M", UID="MST:0101234567")))
    data = info.to_json()
    assert "der" not in data
    assert data["mst"] == "0101234567" and data["thumbprint"] == info.thumbprint
    assert isinstance(data["key_usage"], list) and isinstance(data["problems"], list)
    assert json.loads(json.dumps(data, ensure_ascii=False))["subject_cn"] == "Công ty M"


def test_garbage_is_refused_with_value_error():
    with pytest.raises(ValueError):
        parse_certificate(b"not a certificate")


# --- what cryptography refuses is never listed or shown --------------------------------------
# A lenient reader (asn1crypto was tried, see the stop-23 note) showed these: a name, a usage or
# a key that a verifier would refuse. parse_certificate must keep refusing them (ValueError is
# what the token listing skips as "unparsable certificate").


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")  # DER: the shortest long form
    return bytes([tag, 0x80 | len(length)]) + length + content


def _with_raw_field(der: bytes, field: str, raw: bytes) -> bytes:
    """The certificate with one TBSCertificate field replaced by ``raw`` (signature unchanged:
    only the reading matters here)."""
    from asn1crypto import x509 as asn1

    cert = asn1.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    old = tbs[field].dump()
    assert tbs.contents.count(old) == 1
    body = _tlv(0x30, tbs.contents.replace(old, raw, 1))
    return _tlv(0x30, body + cert["signature_algorithm"].dump() + cert["signature_value"].dump())


_CN_OID = b"\x06\x03\x55\x04\x03"
_O_OID = b"\x06\x03\x55\x04\x0a"


def _malformed() -> dict[str, bytes]:
    base = _cert(_name(CN="Base"))
    ava = _tlv(0x30, _CN_OID + _tlv(0x0C, b"a"))
    spki = _EC_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        # 2.5.4.3 with a padded sub-identifier: shown as CN=Evil Corp by a lenient reader
        "padded-oid-in-subject": _with_raw_field(
            base,
            "subject",
            _tlv(
                0x30, _tlv(0x31, _tlv(0x30, b"\x06\x04\x55\x04\x80\x03" + _tlv(0x0C, b"Evil Corp")))
            ),
        ),
        "rdn-set-out-of-order": _with_raw_field(
            base,
            "subject",
            _tlv(0x30, _tlv(0x31, _tlv(0x30, _O_OID + _tlv(0x0C, b"b")) + ava)),
        ),
        "empty-rdn": _with_raw_field(base, "subject", _tlv(0x30, b"\x31\x00" + _tlv(0x31, ava))),
        "utctime-without-seconds": _with_raw_field(
            base,
            "validity",
            _tlv(0x30, _tlv(0x17, b"2601010000Z") + _tlv(0x18, b"20500101000000Z")),
        ),
        "empty-serial": _with_raw_field(base, "serial_number", b"\x02\x00"),
        "ec-point-off-the-curve": _with_raw_field(
            base, "subject_public_key_info", spki[:-1] + bytes([spki[-1] ^ 1])
        ),
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_certificate_cryptography_refuses_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        parse_certificate(MALFORMED[name])
