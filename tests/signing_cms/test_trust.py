"""Certificate validation against the demo PKI: every verdict a portal has to report."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.errors import KysoError
from agent.signing.trust import TrustStore, validate_certificate, validate_certificate_async

from .conftest import demo_cert_der


def _code(fn: Any) -> str:
    with pytest.raises(KysoError) as info:
        fn()
    return info.value.code


def test_org_certificate_is_valid_and_names_the_unit(
    demo: dict[str, Any], trust: TrustStore
) -> None:
    info = validate_certificate(demo_cert_der(demo, "org"), trust)
    assert info.mst == "0101234567"
    assert info.thumbprint == demo["certificates"]["org"]["thumbprint"]
    assert (
        validate_certificate(demo_cert_der(demo, "org"), trust, purpose="auth").mst == "0101234567"
    )


def test_ec_and_personal_certificates_are_valid(demo: dict[str, Any], trust: TrustStore) -> None:
    assert validate_certificate(demo_cert_der(demo, "ec"), trust).key_type == "EC"
    assert validate_certificate(demo_cert_der(demo, "personal"), trust).cccd == "001190012345"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("expired", "CERT_EXPIRED"),
        ("not_yet_valid", "CERT_NOT_YET_VALID"),
        ("revoked", "CERT_REVOKED"),
        ("no_key_usage", "CERT_KEY_USAGE"),
    ],
)
@pytest.mark.parametrize("purpose", ["sign", "auth"])
def test_flawed_demo_certificates_are_refused(
    demo: dict[str, Any], trust: TrustStore, name: str, code: str, purpose: str
) -> None:
    der = demo_cert_der(demo, name)
    assert _code(lambda: validate_certificate(der, trust, purpose=purpose)) == code  # type: ignore[arg-type]


def test_revoked_error_says_when(demo: dict[str, Any], trust: TrustStore) -> None:
    with pytest.raises(KysoError) as info:
        validate_certificate(demo_cert_der(demo, "revoked"), trust)
    revoked_at = dt.datetime.fromisoformat(info.value.details["revoked_at"])
    assert revoked_at < dt.datetime.now(dt.UTC)
    assert info.value.to_dict()["details"]["revoked_at"] in info.value.message_en


def test_validity_is_judged_at_the_given_time(demo: dict[str, Any], trust: TrustStore) -> None:
    der = demo_cert_der(demo, "org")
    before_issue = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    assert _code(lambda: validate_certificate(der, trust, at=before_issue)) == "CERT_NOT_YET_VALID"
    # Naive datetimes are taken as UTC rather than refused.
    assert (
        validate_certificate(der, trust, at=dt.datetime.now(dt.UTC).replace(tzinfo=None)).mst
        == "0101234567"
    )


def test_a_crl_past_its_next_update_cannot_vouch(demo: dict[str, Any], trust: TrustStore) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    assert _code(lambda: validate_certificate(demo_cert_der(demo, "org"), trust, at=later)) == (
        "CRL_EXPIRED"
    )


def test_missing_crl_is_refused_not_fetched(demo: dict[str, Any]) -> None:
    # The certificates point at http://crl.kyso.test/ (which does not resolve): nothing is
    # fetched, the verdict is "no revocation data".
    no_crl = TrustStore.from_files([demo["ca"]["chain"]], [])
    assert _code(lambda: validate_certificate(demo_cert_der(demo, "org"), no_crl)) == "CRL_MISSING"
    lenient = TrustStore.from_files([demo["ca"]["chain"]], [], revocation_mode="soft-fail")
    assert validate_certificate(demo_cert_der(demo, "org"), lenient).mst == "0101234567"


def _foreign_ca() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Test Issuing CA")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_certificate_from_another_ca_is_untrusted(demo: dict[str, Any], trust: TrustStore) -> None:
    foreign = _foreign_ca()
    store = TrustStore.from_certificates([foreign.public_bytes(serialization.Encoding.DER)])
    der = demo_cert_der(demo, "org")
    assert _code(lambda: validate_certificate(der, store)) == "CERT_UNTRUSTED"
    # A self-made CA certificate presented as the "signer" is not trusted by the demo store.
    foreign_der = foreign.public_bytes(serialization.Encoding.DER)
    assert _code(lambda: validate_certificate(foreign_der, trust)) == "CERT_UNTRUSTED"


def test_intermediate_can_come_from_the_signature(demo: dict[str, Any]) -> None:
    root_only = TrustStore.from_files(
        [demo["ca"]["root"]], [demo["ca"]["crl"], demo["ca"]["root_crl"]]
    )
    der = demo_cert_der(demo, "org")
    assert _code(lambda: validate_certificate(der, root_only)) == "CERT_UNTRUSTED"
    issuing = x509.load_pem_x509_certificate(Path(demo["ca"]["issuing"]).read_bytes())
    extra = [issuing.public_bytes(serialization.Encoding.DER)]
    assert validate_certificate(der, root_only, extra_certs=extra).mst == "0101234567"


def test_bad_inputs_get_clear_errors(
    demo: dict[str, Any], trust: TrustStore, tmp_path: Any
) -> None:
    assert _code(lambda: validate_certificate(b"not a certificate", trust)) == "CERT_INVALID"
    assert _code(lambda: TrustStore.from_files([tmp_path / "missing.pem"], [])) == "INPUT_INVALID"
    assert _code(lambda: TrustStore.from_files([demo["ca"]["issuing"]], [])) == "INPUT_INVALID"


async def test_sync_function_works_inside_a_running_loop(
    demo: dict[str, Any], trust: TrustStore
) -> None:
    # The portal calls the plain function from aiohttp handlers: it must not re-enter the loop.
    der = demo_cert_der(demo, "org")
    assert validate_certificate(der, trust).mst == "0101234567"
    infos = await asyncio.gather(*(validate_certificate_async(der, trust) for _ in range(3)))
    assert {i.mst for i in infos} == {"0101234567"}


def test_sha1_signed_certificates_only_when_allowed(openssl: str, tmp_path: Path) -> None:
    # A legacy CA that signs with SHA-1, as some older Vietnamese CAs did. `cryptography`
    # refuses to make SHA-1 certificates, so OpenSSL issues them.
    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=tmp_path, check=True, capture_output=True, timeout=30)

    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run(
        "req",
        "-x509",
        *ec_key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "9",
        "-subj",
        "/CN=Legacy SHA-1 CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    )
    run(
        "req",
        "-new",
        *ec_key,
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=MST:0100000001",
    )
    run(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-sha1",
        "-days",
        "5",
        "-out",
        "leaf.pem",
    )
    leaf = x509.load_pem_x509_certificate((tmp_path / "leaf.pem").read_bytes())
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    ca = [tmp_path / "ca.pem"]
    strict = TrustStore.from_files(ca, [], revocation_mode="soft-fail")
    assert _code(lambda: validate_certificate(leaf_der, strict)) == "CERT_UNTRUSTED"
    legacy = TrustStore.from_files(ca, [], revocation_mode="soft-fail", allow_sha1=True)
    assert validate_certificate(leaf_der, legacy).mst == "0100000001"


# ---- revocation judged at the signing time (retroactive use of a later CRL) -------------------


def _revoking_pki(revoked_at: dt.datetime, crl_issued: dt.datetime) -> tuple[bytes, TrustStore]:
    """A CA, a leaf it revoked at ``revoked_at`` and its CRL issued at ``crl_issued``: the way a
    portal meets an old dossier, checked against today's CRL."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Revoking CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    crl_dp = x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.kyso.test/revoking.crl")], None, None, None
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MST:0101234567")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(77)
        .not_valid_before(now - dt.timedelta(days=100))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.CRLDistributionPoints([crl_dp]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_name)
        .last_update(crl_issued)
        .next_update(crl_issued + dt.timedelta(days=30))
        .add_extension(x509.CRLNumber(2), critical=False)
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(77)
            .revocation_date(revoked_at)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        .sign(ca_key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    store = TrustStore.from_certificates([ca.public_bytes(der)], [crl.public_bytes(der)])
    return leaf.public_bytes(der), store


def test_a_signature_made_before_the_revocation_stays_valid_with_a_later_crl() -> None:
    # Revoked 30 days ago; the portal holds only today's CRL (issued yesterday, after both
    # signing times). A dossier signed 60 days ago was signed by a good certificate: today's
    # CRL says so (the revocation date is later). One signed 10 days ago was not.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    revoked_at = now - dt.timedelta(days=30)
    leaf, store = _revoking_pki(revoked_at, crl_issued=now - dt.timedelta(days=1))
    before = now - dt.timedelta(days=60)
    assert validate_certificate(leaf, store, at=before).mst == "0101234567"
    assert validate_certificate(leaf, store, at=revoked_at - dt.timedelta(seconds=1)).mst
    for after in (now - dt.timedelta(days=10), revoked_at + dt.timedelta(seconds=1), None):
        with pytest.raises(KysoError) as info:
            validate_certificate(leaf, store, at=after)
        assert info.value.code == "CERT_REVOKED", (after, info.value.details)
        assert dt.datetime.fromisoformat(info.value.details["revoked_at"]) == revoked_at


def test_the_later_crl_case_depends_on_retroactive_revocation_data() -> None:
    # The case above is only meaningful if the CRL postdates the signing time: without
    # retroactive use of revocation data, the same inputs give "no usable CRL" instead of a
    # verdict. (Guards the test against a demo PKI change that would make it vacuous.)
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator import errors as cv_errors

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    leaf, store = _revoking_pki(now - dt.timedelta(days=30), crl_issued=now - dt.timedelta(days=1))
    strict = ValidationContext(
        trust_roots=store.anchors,
        crls=store.crls,
        moment=now - dt.timedelta(days=60),
        allow_fetching=False,
        revocation_mode="hard-fail",
        retroactive_revinfo=False,
    )
    validator = CertificateValidator(asn1_x509.Certificate.load(leaf), validation_context=strict)
    with pytest.raises(cv_errors.InsufficientRevinfoError):
        asyncio.run(validator.async_validate_path())


# ---- key usage and extended key usage for each purpose ------------------------------------------


def _key_usage(*bits: str) -> x509.KeyUsage:
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
    flags.update(dict.fromkeys(bits, True))
    return x509.KeyUsage(**flags)


def usage_pki(
    key_usage: x509.KeyUsage | None,
    eku: list[x509.ObjectIdentifier] | None = None,
    leaf_key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[bytes, TrustStore]:
    """A CA and one leaf with exactly these usages (no CRL distribution point, so revocation
    data is not needed): DER of the leaf, and a store trusting the CA."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Usage CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = leaf_key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MST:0101234567")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=5))
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    der = serialization.Encoding.DER
    leaf = builder.sign(ca_key, hashes.SHA256())
    return leaf.public_bytes(der), TrustStore.from_certificates([ca.public_bytes(der)])


_CLIENT_AUTH = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
_EMAIL = x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION
_ANY_EKU = x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
_SERVER_AUTH = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
_TIME_STAMPING = x509.oid.ExtendedKeyUsageOID.TIME_STAMPING
_OCSP = x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING
_CODE = x509.oid.ExtendedKeyUsageOID.CODE_SIGNING


@pytest.mark.parametrize(
    ("key_usage", "eku", "sign_ok", "auth_ok"),
    [
        (("digital_signature",), None, True, True),
        (("content_commitment",), None, True, False),  # nonRepudiation: signing only
        (("key_encipherment",), None, False, False),
        (None, None, True, False),  # unrestricted for signing; auth wants digitalSignature said
        (("digital_signature",), [_CLIENT_AUTH], True, True),
        (("digital_signature",), [_EMAIL], True, False),  # EKU given, but not clientAuth
        (("digital_signature",), [_EMAIL, _CLIENT_AUTH], True, True),
        (("digital_signature",), [_ANY_EKU], True, True),
        # Restricted to what never signs a document: a server's, a TSA's, an OCSP responder's.
        (("digital_signature",), [_SERVER_AUTH], False, False),
        (("digital_signature",), [_TIME_STAMPING], False, False),
        (("digital_signature",), [_SERVER_AUTH, _OCSP, _CODE], False, False),
        (("digital_signature",), [_SERVER_AUTH, _CLIENT_AUTH], True, True),  # usual VN TLS+client
    ],
)
def test_key_usage_decides_what_a_certificate_may_do(
    key_usage: tuple[str, ...] | None, eku: list[Any] | None, sign_ok: bool, auth_ok: bool
) -> None:
    leaf, store = usage_pki(None if key_usage is None else _key_usage(*key_usage), eku)
    for purpose, ok in (("sign", sign_ok), ("auth", auth_ok)):
        if ok:
            assert validate_certificate(leaf, store, purpose=purpose).mst == "0101234567"  # type: ignore[arg-type]
        else:
            assert _code(lambda p=purpose: validate_certificate(leaf, store, purpose=p)) == (  # type: ignore[misc]
                "CERT_KEY_USAGE"
            ), purpose
