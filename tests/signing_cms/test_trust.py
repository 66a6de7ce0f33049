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
