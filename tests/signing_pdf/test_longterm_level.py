"""B-LT claims only what the file holds: the demo TSA's certificate has revocation data a
verifier can find (so a B-LT file passes a check that requires revocation data for the
timestamp too), a TSA chain without it makes B-LT fall back to B-T with the reason, and only
OCSP answers that say "good" are embedded."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.demo import pki
from agent.demo.pki import PkiUrls, urls_of
from agent.demo.responder import DemoResponder
from agent.demo.tsa import TimestampAuthority, ensure_tsa_certificate
from agent.signing.pdf import PadesLevel, PdfSignOptions, sign_pdf
from agent.signing.pdf.longterm import _embedding_context, long_term_context, says_good
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf


def _der(path: str | Path) -> bytes:
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_b_lt_file_carries_the_timestamp_authoritys_revocation_data(
    demo: dict[str, Any], token_service: Any, tsa: Any
) -> None:
    """pyHanko as the verifier, offline, from the DSS alone, revocation data required for
    every certificate of the signature's chain and of the timestamp's (--force-revinfo)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    root = _der(demo["ca"]["root"])
    with DemoResponder(demo):
        async with token_signer(token_service, demo, "org") as signer:
            result = await sign_pdf(
                make_pdf(),
                signer,
                PdfSignOptions(timestamp_url=tsa.url, long_term=True, trust_roots=(root,)),
            )
    assert result.level is PadesLevel.B_LT and result.note is None
    reader = PdfFileReader(io.BytesIO(result.document))
    dss = DocumentSecurityStore.read_dss(reader)
    anchors = [asn1_x509.Certificate.load(root)]

    def offline() -> Any:
        return dss.as_validation_context(
            {"trust_roots": anchors, "allow_fetching": False, "revocation_mode": "require"}
        )

    status = await async_validate_pdf_signature(
        reader.embedded_signatures[0], offline(), ts_validation_context=offline()
    )
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.valid and status.timestamp_validity.trusted
    assert status.bottom_line, status.pretty_print_details()


def test_the_demo_tsa_certificate_is_known_to_the_demo_responder(
    demo: dict[str, Any], tsa: Any, openssl: str
) -> None:
    ca_dir = Path(demo["ca"]["chain"]).parent
    cert_path, _ = ensure_tsa_certificate(ca_dir)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    urls = PkiUrls(demo["responder"]["port"])
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [str(n.value) for p in points for n in p.full_name or ()] == [urls.issuing_crl]
    with DemoResponder(demo):
        asked = subprocess.run(
            [
                *(openssl, "ocsp", "-issuer", demo["ca"]["issuing"], "-cert", str(cert_path)),
                *("-url", urls.ocsp, "-CAfile", demo["ca"]["chain"]),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert f"{cert_path}: good" in asked.stdout, asked.stdout


def test_a_tsa_certificate_from_an_older_demo_is_issued_again(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    """A demo home made before the TSA certificate named its revocation addresses."""
    from agent.demo.tsa import _issue

    source = Path(demo["ca"]["chain"]).parent
    for name in ("root-ca", "issuing-ca"):
        for ext in ("pem", "key"):
            shutil.copy(source / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    shutil.copy(source / "index.txt", tmp_path / "index.txt")
    ca = pki.TestCA.load(tmp_path)
    old, key_pem = _issue(ca, None)  # what the older version made: no CRL DP, no AIA
    (tmp_path / "tsa.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tsa.key").write_bytes(key_pem)
    cert_path, key_path = ensure_tsa_certificate(tmp_path)
    new = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert new.serial_number != old.serial_number
    new.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    new.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert key.public_key() == new.public_key()
    assert key_path.stat().st_mode & 0o077 == 0
    assert format(new.serial_number, "X").zfill(2) in (tmp_path / "index.txt").read_text()
    assert urls_of(ca.issuing_cert) == PkiUrls(demo["responder"]["port"])
    # Made once: asked again, the same certificate.
    assert ensure_tsa_certificate(tmp_path)[0].read_bytes() == cert_path.read_bytes()


async def test_b_lt_falls_back_when_the_tsa_chain_has_no_revocation_data(
    demo: dict[str, Any], tsa: Any, tmp_path: Path
) -> None:
    """A TSA under another CA whose responder never answers: the signer's chain is complete,
    the timestamp's is not, so B-LT is not claimed and the line says it was the TSA."""
    other = pki.TestCA.create(PkiUrls(_free_port()))  # nothing listens there
    other.save(tmp_path)
    org = _der(demo["certificates"]["org"]["path"])
    roots = (_der(demo["ca"]["root"]), other.root_cert.public_bytes(serialization.Encoding.DER))
    issuing = (_der(demo["ca"]["issuing"]),)
    now = dt.datetime.now(dt.UTC)
    with DemoResponder(demo), TimestampAuthority(tmp_path) as dark:
        async with long_term_context(org, roots, issuing, now, timestamp_url=dark.url) as (
            context,
            note,
        ):
            assert context is None
            assert note is not None and "PAdES-B-T" in note and "timestamp authority" in note
        async with long_term_context(org, roots, issuing, now, timestamp_url=tsa.url) as (
            context,
            note,
        ):
            assert context is not None and note is None


def test_only_ocsp_answers_that_say_good_are_embedded(
    demo: dict[str, Any], openssl: str, tmp_path: Path
) -> None:
    """What the demo responder says for a certificate it knows, one it revoked, and a serial
    it never issued ("unknown"): only the first is validation data for the DSS."""
    answers = {}
    with DemoResponder(demo) as responder:
        for name, target in (
            ("good", ["-cert", demo["certificates"]["org"]["path"]]),
            ("revoked", ["-cert", demo["certificates"]["revoked"]["path"]]),
            ("unknown", ["-serial", "0x7E57"]),
        ):
            out = tmp_path / f"{name}.der"
            subprocess.run(
                [
                    *(openssl, "ocsp", "-issuer", demo["ca"]["issuing"], *target),
                    *("-url", f"{responder.url}/ocsp", "-noverify", "-respout", str(out)),
                ],
                capture_output=True,
                check=True,
                timeout=30,
            )
            answers[name] = asn1_ocsp.OCSPResponse.load(out.read_bytes())
    assert [name for name, answer in answers.items() if says_good(answer)] == ["good"]
    root = asn1_x509.Certificate.load(_der(demo["ca"]["root"]))
    context = _embedding_context(trust_roots=[root], ocsps=list(answers.values()))
    assert [a.dump() for a in context.ocsps] == [answers["good"].dump()]
