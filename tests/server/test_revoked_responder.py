"""Red team 39: an OCSP "good" signed by a delegated responder that the CA itself revoked.

The demo's issuing CA issues a delegated OCSP responder certificate (id-kp-OCSPSigning, *without*
id-pkix-ocsp-nocheck, so nothing tells a client it may skip checking it), then revokes it for
keyCompromise on its CRL -- the same CRL that lists the user's "revoked" certificate. Whoever holds
the leaked responder key runs a real ``openssl ocsp`` answering "good" for that certificate. Kyso
takes the first authentic-looking OCSP answer and never looks at the responder's own status nor at
the CRL: the revoked certificate signed with a plain consent (status "good"). A "good" from a
delegate without that mark is no longer believed as it is: the CRL decides (here: revoked).
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent.demo import pki as demo_pki
from agent.demo.responder import DemoResponder
from agent.signing.certstatus import UNKNOWN_LINE
from tests.conftest import cert_thumbprint

# The prompter that keeps every consent, and a status cache cleared around each test.
from tests.server.test_revocation import _request, fresh_cache, prompter  # noqa: F401


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def revoked_responder(demo: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Path]]:
    ca = demo_pki.TestCA.load(Path(demo["ca"]["chain"]).parent)
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(65537, 2048)
    delegate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Test OCSP 2")]))
        .issuer_name(ca.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .sign(ca.issuing_key, hashes.SHA256())
    )
    revoked_leaf = x509.load_pem_x509_certificate(
        Path(demo["certificates"]["revoked"]["path"]).read_bytes()
    )
    when = now - dt.timedelta(hours=3)
    crl = ca.issuing_crl(
        [(revoked_leaf.serial_number, when), (delegate.serial_number, when)], number=7
    )
    files = {
        "delegate": _pem(
            tmp_path / "delegate.pem", delegate.public_bytes(serialization.Encoding.PEM)
        ),
        "delegate_key": _pem(
            tmp_path / "delegate.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
        "crl": _pem(tmp_path / "issuing.crl.pem", crl.public_bytes(serialization.Encoding.PEM)),
    }
    # The attacker's responder database: every certificate "V" (valid).
    index = Path(demo["responder"]["index"]).read_text()
    lines = []
    for line in index.splitlines():
        fields = line.split("\t")
        if fields and fields[0] == "R":
            fields[0], fields[2] = "V", ""
        lines.append("\t".join(fields))
    files["index"] = _pem(tmp_path / "index.txt", ("\n".join(lines) + "\n").encode())
    shutil.copy(
        Path(demo["responder"]["index"]).with_suffix(".txt.attr"), tmp_path / "index.txt.attr"
    )
    yield files


def test_premise_the_ca_revoked_the_responder_and_the_certificate(
    demo: dict[str, Any], revoked_responder: dict[str, Path], openssl: str
) -> None:
    for cert in (str(revoked_responder["delegate"]), demo["certificates"]["revoked"]["path"]):
        result = subprocess.run(
            [
                openssl,
                "verify",
                "-crl_check",
                "-CAfile",
                demo["ca"]["chain"],
                "-CRLfile",
                str(revoked_responder["crl"]),
                cert,
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr


async def test_a_revoked_responders_good_lets_a_revoked_certificate_sign(
    demo: dict[str, Any], agent: Any, revoked_responder: dict[str, Path]
) -> None:
    manifest = copy.deepcopy(demo)
    manifest["ca"]["crl"] = str(revoked_responder["crl"])  # the CA's real, current CRL
    manifest["responder"]["index"] = str(revoked_responder["index"])
    manifest["responder"]["ocsp_cert"] = str(revoked_responder["delegate"])
    manifest["responder"]["ocsp_key"] = str(revoked_responder["delegate_key"])
    client = await agent.client()
    with DemoResponder(manifest) as responder:
        response = await client.request(
            "sign.hash", _request("sign.hash", cert_thumbprint(demo, "revoked"))
        )
        assert responder.requests >= 1
    consents = agent.prompter.consents
    warned = bool(consents) and any(UNKNOWN_LINE in i.lines for i in consents[0].items)
    assert "error" in response and response["error"]["data"]["code"] == "CERT_REVOKED", (
        f"the revoked certificate signed (consent warned: {warned}; prompts "
        f"{[p.kind for p in agent.prompter.prompts]})"
    )
