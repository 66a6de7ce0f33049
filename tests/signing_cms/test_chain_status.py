"""Red team 39: verifiers judge the whole chain, so the signer asks about every CA above the
certificate too (check_before_signing). Here the statuses come from a stub at the checker's
narrowest seam (``StatusChecker.status``); tests/server/test_chain_revocation.py runs the same
rule against the demo's real OCSP responder and CRLs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.errors import KysoError
from agent.signing.certstatus import StatusChecker, check_before_signing
from agent.signing.revinfo import CertStatus, unknown

NOW = dt.datetime.now(dt.UTC)


def _cert(
    name: str,
    issuer: tuple[x509.Certificate, Any] | None,
    *,
    ca: bool,
    crl: str | None = None,
    days: tuple[int, int] = (-10, 100),
) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        usage = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"),
            False,
        )
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
                **usage,
            ),
            critical=True,
        )
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256()), key


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class _Stub(StatusChecker):
    def __init__(self, answers: dict[bytes, CertStatus]) -> None:
        super().__init__(cache_dir=None)
        self.answers = answers
        self.asked: list[bytes] = []

    async def status(
        self, cert_der: bytes, issuers: Any = (), now: Any = None, **_: Any
    ) -> CertStatus:
        self.asked.append(cert_der)
        return self.answers[cert_der]


def _good() -> CertStatus:
    return CertStatus("good", "OCSP: good", "ocsp", NOW, next_update=NOW + dt.timedelta(hours=1))


def _chain(**ca: Any) -> tuple[bytes, bytes, bytes]:
    root = _cert("Root", None, ca=True)
    issuing = _cert("Issuing CA", root, ca=True, **ca)
    leaf = _cert("Cong ty A", issuing, ca=False, crl="http://127.0.0.1:9/issuing.crl")
    return _der(leaf[0]), _der(issuing[0]), _der(root[0])


@pytest.fixture(autouse=True)
def _state(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_HOME", str(tmp_path))


async def test_a_ca_whose_status_is_unknown_makes_the_answer_unknown() -> None:
    leaf, issuing, root = _chain(crl="http://127.0.0.1:9/root.crl")
    stub = _Stub({leaf: _good(), issuing: unknown("no answer within 3 s", NOW)})
    status = await check_before_signing(stub, leaf, issuers=[issuing, root])
    assert status.status == "unknown" and "issuing CA" in status.reason
    assert stub.asked == [leaf, issuing]  # the root is a trust anchor: nobody revokes it


async def test_a_revoked_ca_refuses_and_names_the_ca() -> None:
    leaf, issuing, root = _chain(crl="http://127.0.0.1:9/root.crl")
    revoked = CertStatus("revoked", "CRL: revoked", "crl", NOW, revoked_at=NOW)
    with pytest.raises(KysoError) as refused:
        await check_before_signing(
            _Stub({leaf: _good(), issuing: revoked}), leaf, issuers=[issuing, root]
        )
    assert refused.value.code == "CERT_REVOKED"
    assert refused.value.details["issuing_ca"].startswith("Issuing CA")


async def test_a_ca_that_names_no_status_address_is_not_asked_about() -> None:
    leaf, issuing, root = _chain()
    stub = _Stub({leaf: _good()})
    assert (await check_before_signing(stub, leaf, issuers=[issuing, root])).status == "good"
    assert stub.asked == [leaf]


async def test_an_expired_ca_refuses() -> None:
    leaf, issuing, root = _chain(crl="http://127.0.0.1:9/root.crl", days=(-400, -1))
    with pytest.raises(KysoError) as refused:
        await check_before_signing(
            _Stub({leaf: _good(), issuing: _good()}), leaf, issuers=[issuing, root]
        )
    assert refused.value.code == "CERT_EXPIRED"
    assert refused.value.details["issuing_ca"].startswith("Issuing CA")


async def test_a_ca_whose_issuer_nobody_can_find_is_not_asked_about() -> None:
    """Its CRL could never be verified (no root on a token, no caIssuers address): asking
    would put a warning on every signature, and users learn to ignore warnings."""
    leaf, issuing, _root = _chain(crl="http://127.0.0.1:9/root.crl")
    stub = _Stub({leaf: _good()})
    assert (await check_before_signing(stub, leaf, issuers=[issuing])).status == "good"
    assert stub.asked == [leaf]
