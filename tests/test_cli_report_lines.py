"""A report line of the CLI holds one value: a line feed in text that comes from a file, a
certificate, a token or a remote provider is shown as \\n, never as a line of its own (red team:
a PDF's signature field name printed "1. Signature1: HỢP LỆ / VALID" and a signer line with the
unit's MST above the real NOT VALID verdict; a certificate's CN, a field's /Lock names and a
provider's status forged lines in verify-xml, verify-cms, sign-pdf's warnings and the tables)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from agent.cli.main import main
from agent.cli.output import CELL_LIMIT, InertText, table
from tests.signing_pdf.conftest import make_pdf
from tests.signing_xml.helpers import GENERIC

FORGED = "FORGED line"
# What a file or a certificate puts after its line feed: a line that would read as Kyso's own.
CN = f"Kẻ gian\n{FORGED}: signer: CÔNG TY KYSO — MST 0101234567"  # 64 at most
FIELD = f"Sig\n{FORGED}: 1. Signature1: HỢP LỆ / VALID"


def _forged_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith(FORGED)]


def _hostile_signer(demo: dict[str, Any], folder: Path) -> tuple[Any, x509.Certificate]:
    """A key and a certificate the demo issuing CA gave a CN holding a line feed."""
    ca = demo["ca"]
    issuer_key = serialization.load_pem_private_key(Path(ca["issuing_key"]).read_bytes(), None)
    issuer = x509.load_pem_x509_certificate(Path(ca["issuing"]).read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CN)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), True
        )
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (folder / "hostile.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "hostile.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _run(argv: list[str], capsys: Any) -> str:
    capsys.readouterr()
    main(argv)
    shown = capsys.readouterr()
    return shown.out + shown.err


def test_verify_pdf_shows_a_field_name_and_a_signer_each_on_their_own_line(
    demo: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    _hostile_signer(demo, tmp_path)
    signer = signers.SimpleSigner.load(str(tmp_path / "hostile.key"), str(tmp_path / "hostile.pem"))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(make_pdf(1))), output=out
    )
    (tmp_path / "signed.pdf").write_bytes(out.getvalue())
    trust = ["--trust", demo["ca"]["root"], "--no-revocation"]
    text = _run(["verify-pdf", str(tmp_path / "signed.pdf"), *trust], capsys)
    assert _forged_lines(text) == [], text
    assert f"Sig\\n{FORGED}" in text and f"Kẻ gian\\n{FORGED}" in text, text


def test_verify_xml_and_verify_cms_show_the_signer_on_one_line(
    demo: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    from agent.signing.cms import sign_cms
    from agent.signing.signer import SoftwareSigner
    from agent.signing.xml import sign_xml

    signer = SoftwareSigner(*_hostile_signer(demo, tmp_path))
    (tmp_path / "signed.xml").write_bytes(asyncio.run(sign_xml(GENERIC, signer, "generic")))
    (tmp_path / "data.txt").write_bytes(b"hello\n")
    (tmp_path / "data.p7s").write_bytes(
        asyncio.run(sign_cms(signer, data=b"hello\n", detached=True))
    )
    trust = ["--trust", demo["ca"]["root"], "--trust", demo["ca"]["issuing"]]
    crls = ["--crl", demo["ca"]["crl"], "--crl", demo["ca"]["root_crl"]]
    xml = ["verify-xml", str(tmp_path / "signed.xml")]
    cms = ["verify-cms", str(tmp_path / "data.p7s"), "--data", str(tmp_path / "data.txt")]
    for argv in (xml, cms):
        text = _run([*argv, *trust, *crls], capsys)
        assert _forged_lines(text) == [], text
        assert f"Kẻ gian\\n{FORGED}" in text, text


def test_sign_pdf_warnings_show_a_locked_field_name_on_one_line(
    demo: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    from tests.signing_pdf.test_field_locks import field, form, lock

    source = tmp_path / "hopdong.pdf"
    source.write_bytes(form({**field("KyDuyet"), **lock("/Include", (f"B\n{FORGED}",))}))
    pin = tmp_path / "pin.txt"
    pin.write_text("123456\n")
    org = demo["certificates"]["org"]["thumbprint"]
    argv = ["sign-pdf", str(source), "--field", "KyDuyet", "--cert", org, "--pin-file", str(pin)]
    text = _run(argv, capsys)
    assert _forged_lines(text) == [], text
    assert f"B\\n{FORGED}" in text, text


def test_a_table_cell_is_one_line_and_bounded() -> None:
    label = f"KYSO DEMO\n{FORGED}  (serial 1234)"
    rows = table([[label, "ok"], ["x" * 500, "ok"]], ["token", "PIN"]).splitlines()
    assert len(rows) == 4 and _forged_lines("\n".join(rows)) == []
    assert all(len(row) <= CELL_LIMIT * 2 + 2 for row in rows)


@pytest.mark.parametrize("hidden", ["\u200b", "\u2060", "\ufeff", "\u00ad", "\u2028", "\U000e0041"])
def test_an_invisible_character_reaches_the_terminal_as_its_escape(hidden: str) -> None:
    """A signer or file name padded with it would look like the genuine one."""
    out = io.StringIO()
    InertText(out).write(f"CÔNG TY{hidden} KYSO")
    assert hidden not in out.getvalue()
    assert out.getvalue().startswith("CÔNG TY\\u") and out.getvalue().endswith(" KYSO")


def test_the_escape_class_is_written_as_ranges() -> None:
    """Listed one by one, the ~300 characters (astral ones among them) made Python's regex
    engine test each against every character of every log line: 2.8 ms for a 3,600-character
    line of Vietnamese, 1.5 ms of agent CPU per signature (bench/agent_roundtrip.py). Ranges
    keep the class short; this checks the shape, not a time."""
    from agent.shown import _ANY_OBEYED

    assert len(_ANY_OBEYED.pattern) < 150, len(_ANY_OBEYED.pattern)
