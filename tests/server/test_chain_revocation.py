"""Red team 39: the issuing (intermediate) CA is revoked by its root, the leaf itself is "good".

The root's CRL (served at the address the issuing CA's certificate names, /root.crl) lists the
issuing CA as revoked for keyCompromise; the leaf's own OCSP responder (the real ``openssl
ocsp`` of the demo) says "good". ``openssl verify -crl_check_all`` calls the leaf revoked. The
agent and the CLI asked only about the leaf and signed with no refusal and no consent line; every
CA above the certificate is now checked too (agent.signing.certstatus.check_before_signing).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from agent.cli.main import main
from agent.demo import pki as demo_pki
from agent.demo.responder import DemoResponder
from agent.signing.certstatus import UNKNOWN_LINE
from tests.conftest import cert_thumbprint
from tests.server.test_methods import dossier

# The prompter that keeps every consent, and a status cache cleared around each test.
from tests.server.test_revocation import fresh_cache, prompter  # noqa: F401
from tests.signing_xml.helpers import HOSO, PIN


def _revoked_root_crl(demo: dict[str, Any], out: Path) -> Path:
    ca = demo_pki.TestCA.load(Path(demo["ca"]["chain"]).parent)
    now = dt.datetime.now(dt.UTC)
    crl = (
        demo_pki._crl_builder(ca.root_cert, now, 2)
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(ca.issuing_cert.serial_number)
            .revocation_date(now - dt.timedelta(hours=2))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        .sign(ca.root_key, hashes.SHA256())
    )
    out.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return out


@pytest.fixture
def issuing_ca_revoked(demo: dict[str, Any], tmp_path: Path) -> Iterator[DemoResponder]:
    """The demo responder (real openssl OCSP, real CRLs) with a root CRL revoking the
    issuing CA."""
    manifest = copy.deepcopy(demo)
    manifest["ca"]["root_crl"] = str(_revoked_root_crl(demo, tmp_path / "root-revoking.crl.pem"))
    with DemoResponder(manifest) as running:
        yield running


def test_premise_openssl_calls_the_leaf_revoked_through_its_ca(
    demo: dict[str, Any], issuing_ca_revoked: DemoResponder, tmp_path: Path, openssl: str
) -> None:
    root_crl = _revoked_root_crl(demo, tmp_path / "root.crl.pem")
    ca_dir = Path(demo["ca"]["chain"]).parent
    result = subprocess.run(
        [
            openssl,
            "verify",
            "-crl_check_all",
            "-CAfile",
            str(ca_dir / "root-ca.pem"),
            "-untrusted",
            demo["ca"]["issuing"],
            "-CRLfile",
            str(root_crl),
            "-CRLfile",
            demo["ca"]["crl"],
            demo["certificates"]["org"]["path"],
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "certificate revoked" in (result.stdout + result.stderr)


async def test_agent_signs_with_a_leaf_whose_issuing_ca_is_revoked(
    demo: dict[str, Any], agent: Any, issuing_ca_revoked: DemoResponder
) -> None:
    client = await agent.client()
    document = base64.b64encode(dossier()).decode()
    response = await client.request(
        "sign.xml",
        {"profile": "bhxh", "document": document, "certificate": cert_thumbprint(demo, "org")},
    )
    assert issuing_ca_revoked.requests >= 1  # the leaf's OCSP was asked (and said good)
    consents = agent.prompter.consents
    warned = bool(consents) and any(UNKNOWN_LINE in item.lines for item in consents[0].items)
    # Refused as revoked (its CA is) before any prompt.
    assert "error" in response and response["error"]["data"]["code"] == "CERT_REVOKED", (
        f"signed (consent warned: {warned}): prompts {[p.kind for p in agent.prompter.prompts]}"
    )
    assert response["error"]["data"]["details"]["issuing_ca"].startswith("Kyso Test Issuing CA")
    assert agent.prompter.prompts == []


def test_cli_sign_cms_signs_with_a_leaf_whose_issuing_ca_is_revoked(
    demo: dict[str, Any], issuing_ca_revoked: DemoResponder, tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "hoso.xml").write_bytes(HOSO)
    rc = main(
        [
            "sign-cms",
            str(tmp_path / "hoso.xml"),
            "--cert",
            cert_thumbprint(demo, "org"),
            "--pin-file",
            str(tmp_path / "pin"),
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert rc == 2 and json.loads(out.out)["error"]["code"] == "CERT_REVOKED", (
        f"rc={rc}; stdout={out.out[:300]!r}; stderr={out.err[:300]!r}"
    )


def test_the_signer_and_kysos_own_verifier_agree_on_a_revoked_ca(
    demo: dict[str, Any], issuing_ca_revoked: DemoResponder, tmp_path: Path, capsys: Any
) -> None:
    """End to end: what Kyso's own verify-cms, given the CAs' current CRLs, calls CERT_REVOKED
    is what sign-cms refuses; signed anyway (--allow-invalid-certificate), it says why."""
    (tmp_path / "pin").write_text(PIN + "\n")
    (tmp_path / "hoso.xml").write_bytes(HOSO)
    args = ["sign-cms", str(tmp_path / "hoso.xml"), "--cert", cert_thumbprint(demo, "org")]
    args += ["--pin-file", str(tmp_path / "pin")]
    assert main([*args, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "CERT_REVOKED"
    assert not (tmp_path / "hoso.xml.p7s").exists()
    assert main([*args, "--allow-invalid-certificate", "--json"]) == 0
    assert "CERT_REVOKED" in capsys.readouterr().err
    root_crl = _revoked_root_crl(demo, tmp_path / "root.crl.pem")
    ca_dir = Path(demo["ca"]["chain"]).parent
    verified = main(
        [
            "verify-cms",
            str(tmp_path / "hoso.xml.p7s"),
            "--data",
            str(tmp_path / "hoso.xml"),
            "--trust",
            str(ca_dir / "root-ca.pem"),
            "--trust",
            demo["ca"]["issuing"],
            "--crl",
            str(root_crl),
            "--crl",
            demo["ca"]["crl"],
            "--json",
        ]
    )
    verdict = json.loads(capsys.readouterr().out)
    assert verified == 2 and "CERT_REVOKED" in json.dumps(verdict), verdict
