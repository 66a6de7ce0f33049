"""Review 42: ab9d14f guarded _signer_name (inspect_pdf, before a consent) with refuse_crowds,
but the same earlier signature's CMS was then parsed whole by pyHanko in _changed_since_signed /
_still_covers (validate_sig_integrity over every signed attribute), and by verify-pdf, with no
count: 500,000 junk signed attributes (a 6 MB CMS) ~18 s before a consent. Now the count comes
first there too: not shown to cover the file (a warning), and PDF_MALFORMED in verify-pdf."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.builders import self_signed_ca


def _padded_pdf(tmp_path: Path, junk: int) -> bytes:
    from asn1crypto import cms
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from tests.signing_pdf.conftest import make_pdf

    ca, key = self_signed_ca(tmp_path)
    signer = signers.SimpleSigner.load(str(key), str(ca))
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
    document = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(make_pdf(1))),
        meta,
        signer=signer,
        bytes_reserved=32 * junk + 16_384,
    ).getvalue()
    match = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", document)
    assert match is not None
    hexed = match.group(1)
    info = cms.ContentInfo.load(bytes.fromhex(hexed.decode()).rstrip(b"\x00"))
    signer_info = info["content"]["signer_infos"][0]
    # SEQUENCE { OID 1.2.3.4, SET { OCTET STRING "x" } } as bytes (see test_cms_crowds)
    attr = bytes.fromhex("300a06032a03043103040178")
    signer_info["signed_attrs"] = cms.CMSAttributes(
        contents=signer_info["signed_attrs"].contents + attr * junk
    )
    padded = info.dump(force=False).hex().encode()
    assert len(padded) <= len(hexed)
    padded += b"0" * (len(hexed) - len(padded))
    return document[: match.start(1)] + padded + document[match.end(1) :]


def test_inspect_does_not_parse_a_crowded_earlier_signature_it_named_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhanko.sign.validation import generic_cms

    from agent.signing.pdf.inspect import inspect_pdf

    document = _padded_pdf(tmp_path, 2_000)
    seen: list[int] = []
    real = generic_cms.validate_sig_integrity

    def spy(signer_info: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(signer_info["signed_attrs"]))
        return real(signer_info, *args, **kwargs)

    monkeypatch.setattr(generic_cms, "validate_sig_integrity", spy)
    started = time.process_time()
    facts = inspect_pdf(io.BytesIO(document))
    took = time.process_time() - started
    assert [s.signer for s in facts.signatures] == ["?"]  # the guard in _signer_name held
    assert not [n for n in seen if n > 64], (
        f"pyHanko checked an earlier signature carrying {seen} signed attributes before a "
        f"consent ({took:.2f} s CPU): refuse_crowds guards only its name"
    )


def test_verify_pdf_refuses_a_crowded_signature_before_parsing_it(tmp_path: Path) -> None:
    import asyncio

    from agent.errors import KysoError
    from agent.signing.pdf.verify import verify_pdf

    document = _padded_pdf(tmp_path, 2_000)
    with pytest.raises(KysoError) as refused:
        asyncio.run(verify_pdf(document, None))  # type: ignore[arg-type]  # refused before trust
    assert refused.value.code == "PDF_MALFORMED"
    assert "more than 64 signed attributes" in refused.value.details["detail"]
