"""How the revocation check fetches: a CA's CRL of megabytes and an answer that arrives in
pieces are read whole, and a redirect is not followed (real HTTP servers on loopback)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from agent.demo import pki
from agent.errors import KysoError
from agent.signing.certstatus import MAX_CRL_BYTES, StatusChecker, check_before_signing
from tests.pki_responder import ReplayResponder, demo_der, issuing_der
from tests.recording_server import RecordingServer, elsewhere  # noqa: F401 - fixture


def _ca(demo: dict[str, Any]) -> pki.TestCA:
    return pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)


def _revoked(demo: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(demo_der(demo, "revoked"))


def _crl_of_many(demo: dict[str, Any], others: int) -> bytes:
    """The issuing CA's genuine CRL listing the revoked certificate after ``others`` entries,
    as a real CA's CRL of a few MB does."""
    ca, now = _ca(demo), dt.datetime.now(dt.UTC)
    entries = [
        x509.RevokedCertificateBuilder()
        .serial_number(10**30 + i)
        .revocation_date(now - dt.timedelta(days=2))
        .build()
        for i in range(others)
    ]
    entries.append(
        x509.RevokedCertificateBuilder()
        .serial_number(_revoked(demo).serial_number)
        .revocation_date(now - dt.timedelta(days=1))
        .build()
    )
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=ca.issuing_cert.subject,
        last_update=now - dt.timedelta(hours=1),
        next_update=now + dt.timedelta(days=7),
        revoked_certificates=entries,
    )
    return builder.sign(ca.issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _ocsp_revoked(demo: dict[str, Any]) -> bytes:
    """The CA's own, current OCSP answer: the certificate is revoked."""
    ca, now = _ca(demo), dt.datetime.now(dt.UTC)
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=_revoked(demo),
        issuer=ca.issuing_cert,
        algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.REVOKED,
        this_update=now - dt.timedelta(minutes=5),
        next_update=now + dt.timedelta(hours=1),
        revocation_time=now - dt.timedelta(days=1),
        revocation_reason=x509.ReasonFlags.key_compromise,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.issuing_cert)
    # The CA's certificate inside makes the answer span several network reads.
    builder = builder.certificates([ca.issuing_cert])
    return builder.sign(ca.issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


async def _refused(demo: dict[str, Any], tmp_path: Path) -> str:
    checker = StatusChecker(tmp_path / "cache")
    with pytest.raises(KysoError) as refused:
        await check_before_signing(checker, demo_der(demo, "revoked"), "sign", [issuing_der(demo)])
    assert refused.value.code == "CERT_REVOKED"
    status = await checker.status(demo_der(demo, "revoked"), [issuing_der(demo)])
    return status.source


async def test_a_crl_of_megabytes_is_read_whole_and_refuses(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    crl = _crl_of_many(demo, 36_000)
    assert 1024 * 1024 < len(crl) < MAX_CRL_BYTES
    with ReplayResponder(demo, ocsp=None, crl=crl) as responder:  # OCSP down: the CRL decides
        assert await _refused(demo, tmp_path) == "crl"
    assert "GET /issuing.crl" in responder.requests


@pytest.mark.parametrize("which", ["ocsp", "crl"])
async def test_an_answer_arriving_in_pieces_is_read_whole(
    demo: dict[str, Any], tmp_path: Path, which: str
) -> None:
    served = (
        {"ocsp": _ocsp_revoked(demo), "crl": None}
        if which == "ocsp"
        else {"ocsp": None, "crl": _crl_of_many(demo, 20)}
    )
    with ReplayResponder(demo, pieces=200, **served):
        assert await _refused(demo, tmp_path) == which


async def test_a_redirect_is_not_followed(
    demo: dict[str, Any],
    tmp_path: Path,
    elsewhere: RecordingServer,  # noqa: F811
) -> None:
    with ReplayResponder(
        demo, ocsp=None, crl=None, redirect=f"{elsewhere.url}/internal"
    ) as responder:
        # No issuer given: the caIssuers download is tried, and is redirected too.
        status = await StatusChecker(tmp_path / "a").status(demo_der(demo, "org"), [])
        with_issuer = await StatusChecker(tmp_path / "b").status(
            demo_der(demo, "org"), [issuing_der(demo)]
        )
    assert "GET /issuing-ca.crt" in responder.requests
    assert "POST /ocsp" in responder.requests and "GET /issuing.crl" in responder.requests
    assert elsewhere.requests == []
    assert status.status == "unknown"
    assert with_issuer.status == "unknown"
    assert "OCSP" in with_issuer.reason and "redirects are not followed" in with_issuer.reason
    assert "CRL" in with_issuer.reason
