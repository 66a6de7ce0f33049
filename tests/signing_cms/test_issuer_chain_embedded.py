"""A CMS or PDF signature carries the issuing CA stored on the token beside the signer's
certificate, so a verifier that trusts only the root builds the path (interop round 22:
openssl said "unable to get local issuer certificate", poppler "Certificate issuer is unknown",
pyHanko and Kyso's own verify-pdf "no chain", for every B-B/B-T PDF and every .p7s). Checked
with the outside verifiers, each given the demo root alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from tests.signing_pdf.conftest import make_pdf


def _cli(argv: list[str], pin: Path) -> None:
    assert main([*argv, "--pin-file", str(pin)]) == 0


@pytest.fixture
def pin(tmp_path: Path) -> Path:
    path = tmp_path / "pin.txt"
    path.write_text("123456\n")
    return path


def test_openssl_verifies_a_p7s_with_the_root_alone(
    demo: dict[str, Any], tmp_path: Path, pin: Path
) -> None:
    data = tmp_path / "hoso.xml"
    data.write_bytes(b"<HoSo>600</HoSo>\n")
    org = demo["certificates"]["org"]["thumbprint"]
    _cli(["sign-cms", str(data), "--cert", org], pin)
    verified = subprocess.run(
        [
            *("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any"),
            *("-in", f"{data}.p7s", "-content", str(data), "-CAfile", demo["ca"]["root"]),
        ],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr


def test_pdfsig_and_verify_pdf_trust_a_signed_pdf_with_the_root_alone(
    demo: dict[str, Any], tmp_path: Path, pin: Path
) -> None:
    source = tmp_path / "hopdong.pdf"
    source.write_bytes(make_pdf(1))
    org = demo["certificates"]["org"]["thumbprint"]
    _cli(["sign-pdf", str(source), "--cert", org], pin)
    signed = tmp_path / "hopdong_signed.pdf"
    certutil = shutil.which("certutil")
    assert certutil, "certutil is missing: run.sh installs libnss3-tools"
    db = tmp_path / "nssdb"
    db.mkdir()
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C", "-i", demo["ca"]["root"]],
        check=True,
    )
    # -no-ocsp: the demo responder is not running here (poppler asks the AIA's OCSP otherwise).
    report = subprocess.run(
        ["pdfsig", "-no-ocsp", "-nssdir", f"sql:{db}", str(signed)], capture_output=True, text=True
    )
    assert "Certificate is Trusted" in report.stdout, report.stdout + report.stderr
    assert main(["verify-pdf", str(signed), "--trust", demo["ca"]["root"], "--no-revocation"]) == 0
