"""The CA certificates a signature carries (agent.tokens.chain): issuers found by their key, not
their name; the root left out; nothing invented when no issuer is at hand. Pure: certificates
made here."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.tokens.chain import issuer_chain

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> bytes:
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _pki() -> dict[str, bytes]:
    keys = {
        name: ec.generate_private_key(ec.SECP256R1())
        for name in ("root", "sub", "issuing", "leaf", "imposter")
    }
    return {
        "root": _cert("Root CA", keys["root"], "Root CA", keys["root"], ca=True),
        "sub": _cert("Sub CA", keys["sub"], "Root CA", keys["root"], ca=True),
        "issuing": _cert("Issuing CA", keys["issuing"], "Sub CA", keys["sub"], ca=True),
        # The same name as the issuing CA, another key (a renewed CA): not the leaf's issuer.
        "imposter": _cert("Issuing CA", keys["imposter"], "Sub CA", keys["sub"], ca=True),
        "leaf": _cert("Cong ty A", keys["leaf"], "Issuing CA", keys["issuing"], ca=False),
    }


def test_the_path_up_to_the_root_nearest_first_root_left_out() -> None:
    pki = _pki()
    candidates = [pki["root"], pki["imposter"], pki["sub"], pki["issuing"], pki["issuing"]]
    assert issuer_chain(pki["leaf"], candidates) == (pki["issuing"], pki["sub"])


def test_an_issuer_is_known_by_its_key_not_its_name() -> None:
    pki = _pki()
    assert issuer_chain(pki["leaf"], [pki["imposter"], pki["root"]]) == ()


def test_the_chain_stops_where_no_issuer_is_at_hand() -> None:
    pki = _pki()
    assert issuer_chain(pki["leaf"], [pki["issuing"]]) == (pki["issuing"],)
    assert issuer_chain(pki["leaf"], []) == ()
    assert issuer_chain(pki["root"], [pki["root"]]) == ()
    assert issuer_chain(b"not a certificate", [pki["issuing"]]) == ()
    assert issuer_chain(pki["leaf"], [b"junk", pki["issuing"]]) == (pki["issuing"],)


def test_of_two_copies_of_the_issuer_with_its_key_the_valid_one_goes_in() -> None:
    """A CA re-issued with the same key: the expired copy often stays on the token. Taken
    first, it made openssl (given the root alone) refuse the signature."""
    root_key, issuing_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("Root CA", root_key, "Root CA", root_key, ca=True)
    expired = (
        x509.CertificateBuilder()
        .subject_name(_name("Issuing CA"))
        .issuer_name(_name("Root CA"))
        .public_key(issuing_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=800))
        .not_valid_after(NOW - dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    current = _cert("Issuing CA", issuing_key, "Root CA", root_key, ca=True)
    leaf = _cert("Cong ty A", leaf_key, "Issuing CA", issuing_key, ca=False)
    assert issuer_chain(leaf, [expired, current, root]) == (current,)
    assert issuer_chain(leaf, [current, expired, root]) == (current,)
