"""Interop 41: ``verify-pdf`` refused a signed PDF that is encrypted with an owner
password only, and its message was the signing one.

Such a file opens without a password. Agencies use this shape to stop edits. The signature in
the file below was made by pyHanko; it is intact and valid:
- poppler's ``pdfsig -nocert`` says "Signature is Valid", "Total document signed";
- pyHanko (``decrypt(b"")``) says intact=True, valid=True, ENTIRE_FILE.

Kyso's ``verify-pdf`` said ``PDF_ENCRYPTED`` "The PDF is password-protected or encrypted,
so it cannot be signed", and advises "Remove the password … save an unencrypted copy and sign
that". The file is being verified, not signed, and removing the password rewrites the file,
which breaks every signature in it.

It now refuses with PDF_ENCRYPTED_UNVERIFIABLE, which says not to remove the password.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main


def _encrypted_signed(demo: dict[str, Any], tmp_path: Path) -> Path:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(595, 842)
    w.encrypt(user_password="", owner_password="chu", algorithm="AES-128")
    buf = io.BytesIO()
    w.write(buf)
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=Doi Tac", "-days", "30"],
        check=True, capture_output=True,
    )  # fmt: skip
    signer = signers.SimpleSigner.load(str(key), str(cert))
    writer = IncrementalPdfFileWriter(io.BytesIO(buf.getvalue()))
    writer.encrypt("chu")
    out = tmp_path / "enc-signed.pdf"
    meta = signers.PdfSignatureMetadata(
        field_name="DoiTac", subfilter=fields.SigSeedSubFilter.PADES
    )
    with out.open("wb") as fh:
        signers.PdfSigner(meta, signer=signer).sign_pdf(writer, output=fh)
    return out


@pytest.mark.filterwarnings("ignore:Relying on the operating system's trust list")
def test_verify_pdf_does_not_answer_a_signed_encrypted_file_with_the_signing_error(
    demo: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    path = _encrypted_signed(demo, tmp_path)
    with path.open("rb") as fh:  # the independent verdict: intact and valid
        reader = PdfFileReader(fh)
        reader.decrypt(b"")
        status = validate_pdf_signature(reader.embedded_signatures[0])
        assert status.intact and status.valid
    capsys.readouterr()
    main(["verify-pdf", str(path), "--trust", demo["ca"]["root"], "--json"])
    report = json.loads(capsys.readouterr().out)
    error = report.get("error") or {}
    assert error["code"] == "PDF_ENCRYPTED_UNVERIFIABLE"
    assert "cannot be signed" not in error["message_en"]
    assert "Do not remove the password" in error["action_en"] and "Đừng bỏ" in error["action_vi"]
