"""A certificate with a critical extension verifiers do not handle cannot sign (red team 22, F3).

Kyso signed with one ("usable" in doctor, no warning in the consent) and every verifier refused
the signature: `openssl cms -verify` ("unhandled critical extension"), Kyso's own verify-cms,
pyHanko. The set Kyso lets through (certinfo.HANDLED_CRITICAL_EXTENSIONS) is checked here
against the real verifiers: OpenSSL and Kyso's pyhanko-certvalidator validation.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from pyhanko.sign.ades.qualified_asn1 import QcStatements
from pyhanko_certvalidator.validate import SUPPORTED_EXTENSIONS

from agent.errors import KysoError
from agent.signing.trust import TrustStore, validate_certificate
from agent.tokens.certinfo import HANDLED_CRITICAL_EXTENSIONS, parse_certificate
from agent.ui.certtext import certificate_warnings, problem_text
from tests.tokens import crafted_certs as crafted

_URI = x509.UniformResourceIdentifier("http://ca.example.vn/x")
_POINT = x509.DistributionPoint([_URI], None, None, None)


def _raw(oid: str, value: bytes) -> x509.ExtensionType:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value)


# Each extension a CA could mark critical on a user's certificate (values built by a library).
EXTENSIONS: dict[str, x509.ExtensionType] = {
    "key usage": x509.KeyUsage(True, True, False, False, False, False, False, False, False),
    "basic constraints": x509.BasicConstraints(ca=False, path_length=None),
    "extended key usage": x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
    "subject alt name": x509.SubjectAlternativeName([x509.RFC822Name("ketoan@congty.vn")]),
    "certificate policies": x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)]
    ),
    "CRL distribution points": x509.CRLDistributionPoints([_POINT]),
    "OCSP no check": x509.OCSPNoCheck(),
    "policy constraints": x509.PolicyConstraints(None, 0),
    "inhibit anyPolicy": x509.InhibitAnyPolicy(0),
    "name constraints": x509.NameConstraints([x509.DNSName("congty.vn")], None),
    "policy mappings": _raw(
        "2.5.29.33",
        asn1_x509.PolicyMappings(
            [{"issuer_domain_policy": "1.2.3.4", "subject_domain_policy": "1.2.3.5"}]
        ).dump(),
    ),
    # certvalidator takes these, OpenSSL refuses them (RFC 5280: never critical).
    "authority key identifier": x509.AuthorityKeyIdentifier.from_issuer_public_key(
        crafted.CA_KEY.public_key()
    ),
    "subject key identifier": x509.SubjectKeyIdentifier(b"\x01" * 20),
    "authority information access": x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, _URI)]
    ),
    "freshest CRL": x509.FreshestCRL([_POINT]),
    "qcStatements": _raw(
        "1.3.6.1.5.5.7.1.3", QcStatements([{"statement_id": "qc_compliance"}]).dump()
    ),
    # OpenSSL takes it, certvalidator refuses it.
    "Netscape cert type": _raw(
        "2.16.840.1.113730.1.1", asn1_x509.NetscapeCertificateType({"ssl_client"}).dump()
    ),
    # Both refuse these.
    "subject information access": x509.SubjectInformationAccess(
        [x509.AccessDescription(x509.ObjectIdentifier("1.3.6.1.5.5.7.48.5"), _URI)]
    ),
    "TLS feature": x509.TLSFeature([x509.TLSFeatureType.status_request]),
    "private (red team)": crafted.private_critical()[0],
}


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _openssl_accepts(cert: x509.Certificate, tmp_path: Path) -> bool:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(crafted.ca_certificate().public_bytes(serialization.Encoding.PEM))
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(leaf)], capture_output=True, text=True
    )
    assert done.returncode == 0 or "unhandled critical extension" in done.stdout + done.stderr
    return done.returncode == 0


def _kyso_verifier_accepts(cert: x509.Certificate) -> bool:
    store = TrustStore.from_certificates(
        [_der(crafted.ca_certificate())], revocation_mode="soft-fail"
    )
    try:
        validate_certificate(_der(cert), store)
    except KysoError as exc:
        assert exc.code == "CERT_UNTRUSTED" and "critical extension" in exc.message_en
        return False
    return True


@pytest.mark.parametrize("label", sorted(EXTENSIONS))
def test_kyso_refuses_exactly_what_a_verifier_refuses(label: str, tmp_path: Path) -> None:
    """Marked critical on the signer's certificate: Kyso flags the extension when OpenSSL or
    Kyso's own verifier (pyhanko-certvalidator) refuses the certificate, and only then."""
    extension = EXTENSIONS[label]
    # Without a key usage of its own, bar the one under test (which allows signing).
    own_usage = not isinstance(extension, x509.KeyUsage)
    cert = crafted.certificate(key_usage=own_usage, extensions=[(extension, True)])
    info = parse_certificate(_der(cert))
    both_accept = _openssl_accepts(cert, tmp_path) and _kyso_verifier_accepts(cert)
    assert ("UNSUPPORTED_CRITICAL_EXTENSION" not in info.problems()) is both_accept
    assert (info.unhandled_critical_extensions == ()) is both_accept
    # The same extension, not critical, is nothing to any verifier (nor to Kyso).
    plain = crafted.certificate(key_usage=own_usage, extensions=[(extension, False)])
    assert parse_certificate(_der(plain)).problems() == []


def test_the_list_is_certvalidators_own_minus_what_openssl_refuses() -> None:
    """Every extension Kyso lets through critical is one pyhanko-certvalidator supports (its
    SUPPORTED_EXTENSIONS, by asn1crypto's names): a new certvalidator that drops one fails
    here, not in a user's signature."""
    names = {asn1_x509.ExtensionId(oid).native for oid in HANDLED_CRITICAL_EXTENSIONS}
    assert names <= SUPPORTED_EXTENSIONS
    assert len(HANDLED_CRITICAL_EXTENSIONS) == len(names) == 11


def test_the_red_teams_certificate_is_refused_before_anything_and_says_why() -> None:
    """CONG TY CRIT EXT: a good unit certificate with a critical private extension, valid to
    2100. A lasting problem (the same at any time), beside other problems; a CA certificate
    keeps its own."""
    until = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    info = crafted.info(
        (("CN", "CONG TY CRIT EXT"), ("UID", "MST:0101234567")),
        extensions=[crafted.private_critical()],
        until=until,
    )
    assert info.unhandled_critical_extensions == ("1.3.6.1.4.1.99999.1",)
    assert info.problems() == ["UNSUPPORTED_CRITICAL_EXTENSION"]
    assert info.problems(until + dt.timedelta(days=1)) == [
        "EXPIRED",
        "UNSUPPORTED_CRITICAL_EXTENSION",
    ]
    assert info.to_json()["problems"] == ["UNSUPPORTED_CRITICAL_EXTENSION"]
    assert "unhandled_critical_extensions" not in info.to_json()  # the protocol's rows as before
    not_for_signing = crafted.info(key_usage=False, extensions=[
        (x509.KeyUsage(False, False, True, False, False, False, False, False, False), True),
        crafted.private_critical(),
    ])  # fmt: skip
    assert not_for_signing.problems() == ["NO_SIGNING_KEY_USAGE", "UNSUPPORTED_CRITICAL_EXTENSION"]
    # What the picker's row and the consent say.
    assert problem_text("UNSUPPORTED_CRITICAL_EXTENSION", "en") == (
        "an unsupported critical extension: its signatures would be refused"
    )
    (warning,) = certificate_warnings(info)
    assert warning.severity == "danger" and "critical" in warning.vi and "refused" in warning.en


def test_the_error_names_the_extension_without_sending_the_user_to_key_usage() -> None:
    err = KysoError("CERT_CRITICAL_EXTENSION", {"extension": "1.3.6.1.4.1.99999.1"})
    assert "1.3.6.1.4.1.99999.1" in err.message_en and "1.3.6.1.4.1.99999.1" in err.message_vi
    assert "key usage" not in err.to_dict()["action_en"]
    assert err.is_(err.group) and err.group.name == "CERTIFICATE"  # --allow-invalid-certificate
