"""A CMS padded with items is refused on its bytes, before anything is parsed (red team 43).

500,000 junk signed attributes (a 6 MB file) took verify-cms 52 s and 1.9 GB to call it
SIGNATURE_INVALID; 20,000 copies of the certificate 22 s and 620 MB, then "valid". Each list
a signature carries is now counted on its DER headers first: past a handful (64 attributes,
100 certificates…) it is CMS_INVALID at once.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import run_cli

DEADLINE = 30.0


def _signed(tmp_path: Path) -> tuple[Any, Path, Path]:
    from asn1crypto import cms
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Crowd")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(43)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(b"hello")
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
    )
    ca, doc = tmp_path / "ca.pem", tmp_path / "hello.txt"
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    doc.write_bytes(b"hello")
    return cms.ContentInfo.load(der), ca, doc


def _verify(tmp_path: Path, info: Any, ca: Path, doc: Path) -> dict[str, Any]:
    sig = tmp_path / "crowd.p7s"
    sig.write_bytes(info.dump(force=False))
    argv = ["verify-cms", "--json", "--trust", str(ca), "--data", str(doc), str(sig)]
    outcome = run_cli(*argv, deadline=DEADLINE, home=tmp_path / "home")
    assert outcome.code is not None, f"verify-cms still busy after {DEADLINE:.0f} s"
    return json.loads(outcome.stdout)


def test_half_a_million_signed_attributes_are_refused_at_once(tmp_path: Path) -> None:
    from asn1crypto import cms

    info, ca, doc = _signed(tmp_path)
    signer = info["content"]["signer_infos"][0]
    # SEQUENCE { OID 1.2.3.4, SET { OCTET STRING "x" } }, as bytes: building it by name would
    # fix asn1crypto's attribute-name table before pyHanko adds its own names to it.
    junk = bytes.fromhex("300a06032a03043103040178")
    # Spliced as bytes: half a million asn1crypto objects would take minutes to build.
    signer["signed_attrs"] = cms.CMSAttributes(
        contents=signer["signed_attrs"].contents + junk * 500_000
    )
    answer = _verify(tmp_path, info, ca, doc)
    assert answer["error"]["code"] == "CMS_INVALID"
    assert "more than 64 signed attributes" in answer["error"]["message_en"]


def test_twenty_thousand_certificate_copies_are_refused_at_once(tmp_path: Path) -> None:
    from asn1crypto import cms

    info, ca, doc = _signed(tmp_path)
    certificates = info["content"]["certificates"]
    info["content"]["certificates"] = cms.CertificateSet(contents=certificates.contents * 20_000)
    answer = _verify(tmp_path, info, ca, doc)
    assert answer["error"]["code"] == "CMS_INVALID"
    assert "more than 100 certificates" in answer["error"]["message_en"]


def test_an_ordinary_signature_is_counted_and_verified(tmp_path: Path) -> None:
    info, ca, doc = _signed(tmp_path)
    answer = _verify(tmp_path, info, ca, doc)
    assert answer.get("ok") is True, answer


@pytest.mark.parametrize(
    ("contents", "most", "count"),
    [
        (b"", 3, 0),
        (b"\x02\x01\x05" * 3, 3, 3),
        (b"\x02\x01\x05" * 9, 3, 4),  # stops counting past the limit
        (b"\x04\x81\x80" + b"x" * 128, 3, 1),  # long-form length
        (b"\x9f\x81\x01\x01\x00", 3, 1),  # high tag number
    ],
)
def test_items_are_counted_on_their_headers(contents: bytes, most: int, count: int) -> None:
    from agent.signing.cms import _count_der_items

    assert _count_der_items(contents, most) == count


@pytest.mark.parametrize("contents", [b"\x02", b"\x02\x05\x01", b"\x04\x80", b"\x04\x85\x01"])
def test_a_header_running_past_the_end_is_malformed(contents: bytes) -> None:
    from agent.signing.cms import _count_der_items

    with pytest.raises(ValueError):
        _count_der_items(contents, 3)
