"""verify_pdf uses a B-LT file's DSS and checks the signature timestamp's own verdict.

Kyso's own PAdES B-LT output must verify offline in the strict revocation modes with only the
root trusted (the DSS carries the issuing CA, the OCSP answers and CRLs); a B-T file without
that data must not. A signature timestamp that was altered makes the signature not valid.
``verify-pdf`` keeps pyHanko's tracebacks out of stderr.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.signing.pdf import PadesLevel, PdfSignOptions, sign_pdf
from agent.signing.pdf.verify import verify_pdf
from agent.signing.trust import TrustStore
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf


def _der(path: str) -> bytes:
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


async def _sign(token_service: Any, demo: dict[str, Any], options: PdfSignOptions) -> bytes:
    async with token_signer(token_service, demo, "org") as signer:
        return (await sign_pdf(make_pdf(), signer, options)).document


async def _b_lt(token_service: Any, demo: dict[str, Any], tsa_url: str) -> bytes:
    from agent.demo.responder import DemoResponder

    root = _der(demo["ca"]["root"])
    with DemoResponder(demo):  # stopped before verifying: everything must come from the DSS
        return await _sign(
            token_service,
            demo,
            PdfSignOptions(timestamp_url=tsa_url, long_term=True, trust_roots=(root,)),
        )


async def test_kyso_b_lt_verifies_offline_with_revocation_checked(demo, token_service, tsa):
    document = await _b_lt(token_service, demo, tsa.url)
    root, issuing = _der(demo["ca"]["root"]), _der(demo["ca"]["issuing"])
    # The default (hard-fail), with the root only and with the chain, no CRL given.
    for certs in ([root], [root, issuing]):
        (report,) = await verify_pdf(document, TrustStore.from_certificates(certs))
        assert report.valid, report.problem
        assert report.level is PadesLevel.B_LT and report.timestamp_valid
    # "require": revocation data for every certificate of the signer's path, all from the DSS.
    strict = TrustStore.from_certificates([root], revocation_mode="require")
    (report,) = await verify_pdf(document, strict)
    assert report.intact and report.trusted, report.problem


async def test_without_dss_the_same_trust_refuses(demo, token_service, tsa):
    # Control: a B-T file has no revocation data, so hard-fail must refuse it with the root
    # only; the B-LT verdict above comes from the DSS, not from a laxer context.
    document = await _sign(token_service, demo, PdfSignOptions(timestamp_url=tsa.url))
    trust = TrustStore.from_certificates([_der(demo["ca"]["root"])])
    (report,) = await verify_pdf(document, trust)
    assert not report.valid and not report.trusted


async def test_an_altered_signature_timestamp_is_not_valid(demo, token_service, tsa, trust):
    from pyhanko.pdf_utils.reader import PdfFileReader

    document = await _sign(token_service, demo, PdfSignOptions(timestamp_url=tsa.url))
    (sound,) = await verify_pdf(document, trust)
    assert sound.valid and sound.timestamped and sound.timestamp_valid
    sig = PdfFileReader(io.BytesIO(document)).embedded_regular_signatures[0]
    token = next(
        a["values"][0]
        for a in sig.signed_data["signer_infos"][0]["unsigned_attrs"]
        if a["type"].native == "signature_time_stamp_token"
    )
    value = token["content"]["signer_infos"][0]["signature"].native
    hex_value = next(
        h for h in (value.hex().encode(), value.hex().upper().encode()) if h in document
    )
    at = document.index(hex_value) + 20  # a digit inside the token's signature value
    altered = document[:at] + (b"0" if document[at : at + 1] != b"0" else b"1") + document[at + 1 :]
    (report,) = await verify_pdf(altered, trust)
    assert report.intact and report.trusted  # the document signature itself is untouched
    assert not report.valid and not report.timestamp_valid
    assert report.problem and "timestamp" in report.problem


async def test_verify_pdf_keeps_tracebacks_out_of_stderr(demo, token_service, tsa, tmp_path):
    document = await _sign(token_service, demo, PdfSignOptions(timestamp_url=tsa.url))
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(document)
    command = [sys.executable, "-m", "agent.cli", "verify-pdf", str(signed)]
    command += ["--trust", demo["ca"]["root"]]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "NOT VALID" in run.stdout  # no revocation data: refused
    assert "Traceback" not in run.stderr and "WARNING" not in run.stderr, run.stderr
    verbose = subprocess.run(
        [*command[:3], "-v", *command[3:]], capture_output=True, text=True, timeout=120
    )
    assert verbose.returncode == 2 and "DEBUG pyhanko" in verbose.stderr
