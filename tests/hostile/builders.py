"""Builders of small hostile inputs (no token needed: a throw-away software key signs)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, serial: int, ca: bool):
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(key, hashes.SHA256())


def self_signed_ca(directory: Path) -> tuple[Path, Path]:
    """A throw-away CA: (ca.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("Hostile test CA", "Hostile test CA", key, 1, True)
    ca, pkey = directory / "ca.pem", directory / "key.pem"
    ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkey.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca, pkey


def loop_chain_cms(data: bytes, loop_certs: int) -> bytes:
    """A detached CMS over ``data`` whose signer is issued by "Loop CA", carrying
    ``loop_certs`` certificates that are all named "Loop CA" and issued by "Loop CA" (distinct
    serials): every ordering of them is a candidate chain (loop_certs! of them), none reaches
    a trust anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    loop = [_cert("Loop CA", "Loop CA", key, 1000 + i, True) for i in range(loop_certs)]
    leaf = _cert("Signer", "Loop CA", key, 7, False)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(leaf, key, hashes.SHA256())
    for cert in loop:
        builder = builder.add_certificate(cert)
    options = [
        pkcs7.PKCS7Options.DetachedSignature,
        pkcs7.PKCS7Options.NoCapabilities,
        pkcs7.PKCS7Options.Binary,
    ]
    return builder.sign(serialization.Encoding.DER, options)


def signed_pdf(ca: Path, key: Path) -> bytes:
    """A one-page PDF signed (PAdES) by the throw-away CA itself."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from tests.signing_pdf.conftest import make_pdf

    signer = signers.SimpleSigner.load(str(key), str(ca))
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf(1))), meta, signer=signer)
    return out.getvalue()


def with_huge_xref_stream(document: bytes, entries: int, kind: int = 1) -> bytes:
    """``document`` plus one incremental update whose cross-reference stream lists
    ``entries`` objects (all at one offset, or free with ``kind=0``): 6 bytes an entry, all
    alike, so Flate packs a million of them into ~5 KB."""
    size = max(int(n) for n in re.findall(rb"/Size (\d+)", document))
    root = re.findall(rb"/Root (\d+ \d+ R)", document)[-1]
    prev = int(re.findall(rb"startxref\s+(\d+)", document)[-1])
    out = bytearray(document if document.endswith(b"\n") else document + b"\n")
    target = len(out)
    out += b"%d 0 obj\n<< /A 1 >>\nendobj\n" % size
    xref_at = len(out)
    one = (b"\x01" + target.to_bytes(4, "big") + b"\x00") if kind else b"\x00" * 6
    table = (
        b"\x01"
        + target.to_bytes(4, "big")
        + b"\x00"
        + b"\x01"
        + xref_at.to_bytes(4, "big")
        + b"\x00"
        + one * entries
    )
    packed = zlib.compress(table, 9)
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /Root %s /Prev %d /W [1 4 1] /Index [%d %d] "
        b"/Filter /FlateDecode /Length %d >>\nstream\n"
        % (size + 1, size + 2 + entries, root, prev, size, entries + 2, len(packed))
    )
    out += packed + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def classic_pdf(objects: dict[int, bytes], *, info: int | None = None) -> bytes:
    """A classic-xref PDF from ``{number: body}`` (body without 'N 0 obj'/'endobj'), root 1
    (from red team 43)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num] if num in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root 1 0 R" % size
    if info is not None:
        out += b" /Info %d 0 R" % info
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def pdf_stream(data: bytes) -> bytes:
    """An indirect stream object's body."""
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def one_page_pdf(
    *, catalog_extra: bytes = b"", extra: dict[int, bytes] | None = None, info: bytes | None = None
) -> bytes:
    """One page saying Hello; ``info`` the /Info dictionary (object 5), ``extra`` more objects."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R" + catalog_extra + b" >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        4: pdf_stream(b"BT /F1 12 Tf 72 700 Td (Hello) Tj ET"),
    }
    if info is not None:
        objects[5] = info
    objects.update(extra or {})
    return classic_pdf(objects, info=5 if info is not None else None)
