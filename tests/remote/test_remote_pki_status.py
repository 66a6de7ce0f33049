"""The remote service's certificates at the demo responder: they name its OCSP and CRL
addresses, so it answers for them as for the tokens' ("good", "revoked" for the revoked one),
never "unknown"; and the issuing CA's CRL says the same."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from agent.demo.remote import RunningService
from agent.demo.remote_pki import REMOTE_PROFILES
from agent.demo.responder import DemoResponder


def _remote_cert(demo: dict[str, Any], remote_pki: Path, label: str) -> Path:
    issuing = x509.load_pem_x509_certificate(Path(demo["ca"]["issuing"]).read_bytes())
    return remote_pki / f"ca-{issuing.fingerprint(hashes.SHA256()).hex()[:16]}/{label}.cert.pem"


async def test_the_demo_responder_answers_for_the_remote_certificates(
    demo: dict[str, Any], csc: RunningService, remote_pki: Path, openssl: str
) -> None:
    assert {p.label for p in REMOTE_PROFILES if p.revoked} == {"revoked"}
    with DemoResponder(demo) as responder:
        for profile in REMOTE_PROFILES:
            cert = _remote_cert(demo, remote_pki, profile.label)
            # openssl as the relying party: asks the address the certificate names, checks the
            # answer's signature up to the demo root.
            asked = subprocess.run(
                [
                    *(openssl, "ocsp", "-issuer", demo["ca"]["issuing"], "-cert", str(cert)),
                    *("-url", f"{responder.url}/ocsp", "-CAfile", demo["ca"]["chain"]),
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            expected = "revoked" if profile.revoked else "good"
            assert f"{cert}: {expected}" in asked.stdout, (profile.label, asked.stdout)
            assert "Response verify OK" in asked.stderr, asked.stderr
        with urllib.request.urlopen(f"{responder.url}/issuing.crl", timeout=10) as answer:
            crl = x509.load_der_x509_crl(answer.read())
    for profile in REMOTE_PROFILES:
        serial = x509.load_pem_x509_certificate(
            _remote_cert(demo, remote_pki, profile.label).read_bytes()
        ).serial_number
        listed = crl.get_revoked_certificate_by_serial_number(serial) is not None
        assert listed is profile.revoked, profile.label
    # The tokens' revoked certificate stays listed.
    token_revoked = x509.load_pem_x509_certificate(
        Path(demo["certificates"]["revoked"]["path"]).read_bytes()
    )
    assert crl.get_revoked_certificate_by_serial_number(token_revoked.serial_number) is not None
