"""A revoked certificate, and an on-path attacker at the OCSP/CRL addresses it names who holds
only the CA's genuine answers: a "good" captured before the revocation (no nextUpdate) and
replayed, or the CA's fresh delta CRL in place of the full one. The agent must not sign
silently: CERT_REVOKED when the CA's real CRL is still reachable, otherwise the consent's
"status unknown" warning, and nothing cached to believe later."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from agent.demo import pki
from agent.signing.certstatus import UNKNOWN_LINE
from tests.conftest import cert_thumbprint
from tests.pki_responder import ReplayResponder, demo_der, status_cache_dir
from tests.server.test_revocation import (  # noqa: F401 (fixtures of the revocation tests)
    _request,
    fresh_cache,
    prompter,
)


def _replayed_good(demo: dict[str, Any], ca: pki.TestCA) -> bytes:
    """The CA's own "good" for the revoked certificate, 300 days old, without nextUpdate."""
    then = dt.datetime.now(dt.UTC) - dt.timedelta(days=300)
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=x509.load_der_x509_certificate(demo_der(demo, "revoked")),
        issuer=ca.issuing_cert,
        algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=then,
        next_update=None,
        revocation_time=None,
        revocation_reason=None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.issuing_cert)
    return builder.sign(ca.issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _fresh_delta(ca: pki.TestCA) -> bytes:
    """The CA's genuine delta CRL: current, and empty (nothing revoked since its base)."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.issuing_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(9), critical=False)
        .add_extension(x509.DeltaCRLIndicator(8), critical=True)
    )
    return builder.sign(ca.issuing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _served(demo: dict[str, Any], attack: str) -> tuple[bytes | None, bytes | None]:
    ca = pki.TestCA.load(Path(demo["ca"]["issuing"]).parent)
    real_crl = x509.load_pem_x509_crl(Path(demo["ca"]["crl"]).read_bytes())
    return {
        "replayed-ocsp": (_replayed_good(demo, ca), None),
        "delta-crl": (None, _fresh_delta(ca)),
        "replayed-ocsp-real-crl": (
            _replayed_good(demo, ca),
            real_crl.public_bytes(serialization.Encoding.DER),
        ),
    }[attack]


@pytest.mark.parametrize("method", ["auth.challenge", "sign.xml"])
@pytest.mark.parametrize("attack", ["replayed-ocsp", "delta-crl"])
async def test_a_revoked_certificate_never_signs_silently(
    demo: dict[str, Any], agent: Any, attack: str, method: str
) -> None:
    ocsp_body, crl_body = _served(demo, attack)
    client = await agent.client()
    with ReplayResponder(demo, ocsp=ocsp_body, crl=crl_body) as attacker:
        result = await client.call(method, _request(method, cert_thumbprint(demo, "revoked")))
    assert result
    assert "POST /ocsp" in attacker.requests and "GET /issuing.crl" in attacker.requests
    (consent,) = agent.prompter.consents
    assert consent.items and all(item.lines[0] == UNKNOWN_LINE for item in consent.items)
    # Nothing was taken for a definite answer: the next signature asks (and warns) again.
    assert not any(status_cache_dir().glob("*.json"))


async def test_a_replayed_good_falls_through_to_the_real_crl(
    demo: dict[str, Any], agent: Any
) -> None:
    ocsp_body, crl_body = _served(demo, "replayed-ocsp-real-crl")
    client = await agent.client()
    thumbprint = cert_thumbprint(demo, "revoked")
    with ReplayResponder(demo, ocsp=ocsp_body, crl=crl_body):
        response = await client.request("sign.hash", _request("sign.hash", thumbprint))
    assert response["error"]["data"]["code"] == "CERT_REVOKED", response
    assert agent.prompter.prompts == []
