"""The read-back of a signed PDF (agent.signing.pdf.readback), on files signed by the demo tokens.

Every file here is a real PAdES signature made through SoftHSM2; the damage is done to the bytes
on disk afterwards, as a failing disk, a crashed writer or another program would do it. Whatever
the damage, the answer is READBACK_FAILED, never another exception and never a pass.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.errors import KysoError
from agent.signing.pdf import PadesLevel, PdfSignOptions, Placement, sign_pdf
from agent.signing.pdf.readback import ReadBack, check_signed_pdf
from tests.signing_cms.conftest import token_signer
from tests.signing_pdf.conftest import make_pdf

VISIBLE = PdfSignOptions(placement=Placement(1, (330, 60, 560, 135)), reason="Kế toán lập")


async def _sign(token_service: Any, demo: Any, name: str, data: bytes, options: Any) -> Any:
    async with token_signer(token_service, demo, name) as signer:
        return await sign_pdf(data, signer, options)


def _original(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


def _check(data: bytes, **kwargs: Any) -> ReadBack:
    return check_signed_pdf(io.BytesIO(data), path="signed.pdf", **kwargs)


def _refused(data: bytes, **kwargs: Any) -> str:
    """The READBACK_FAILED detail for ``data``; any other outcome fails the test."""
    with pytest.raises(KysoError) as err:
        _check(data, **kwargs)
    assert err.value.code == "READBACK_FAILED", err.value.code
    assert err.value.details["path"] == "signed.pdf"
    return str(err.value.details["detail"])


def _flip(data: bytes, at: int) -> bytes:
    # A letter to another letter: the file still parses, only the signed bytes differ.
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _contents_span(data: bytes) -> tuple[int, int]:
    """The newest signature's /ByteRange gap (its /Contents hex string), from the file itself."""
    ranges = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    _, first, start, _ = (int(v) for v in ranges[-1])
    return first, start


@pytest.fixture
def unsigned() -> bytes:
    return make_pdf(2)


async def test_a_good_file_passes_and_gives_the_whole_files_sha256(
    demo, token_service, unsigned, tmp_path
) -> None:
    result = await _sign(token_service, demo, "org", unsigned, VISIBLE)
    back = _check(result.document, original=_original(unsigned))
    assert back.sha256 == hashlib.sha256(result.document).hexdigest()
    assert back.fields == (result.field_name,)
    # The same from a real file on disk, read in place (as the CLI does).
    path = tmp_path / "signed.pdf"
    path.write_bytes(result.document)
    with path.open("rb") as on_disk:
        assert check_signed_pdf(on_disk, original=_original(unsigned)) == back


async def test_a_byte_flipped_in_the_signed_range_is_refused(demo, token_service, unsigned):
    result = await _sign(token_service, demo, "org", unsigned, VISIBLE)
    signed = result.document
    # In the original's bytes (the page text), with no original digest to compare against:
    # only the signature's own digest can tell.
    in_prefix = signed.index(b"Nguoi ky - trang 1") + 2
    detail = _refused(_flip(signed, in_prefix))
    assert "intact" in detail or "digest" in detail.lower(), detail
    # In the signature's own revision before its /Contents (the stamp's red border colour),
    # with the right original digest: the prefix is untouched, the CMS is what refuses.
    first, start = _contents_span(signed)
    border = signed.index(b"0.75 0 0 RG", len(unsigned), first) + 2
    detail = _refused(_flip(signed, border), original=_original(unsigned))
    assert "intact" in detail or "digest" in detail.lower(), detail
    # After its /Contents: the signing time in the signature dictionary.
    when = signed.index(b"/M (D", start) + 9
    assert signed[when : when + 1].isdigit()
    detail = _refused(_flip(signed, when), original=_original(unsigned))
    assert "intact" in detail or "digest" in detail.lower(), detail
    # The update's cross-reference pointer broken: unreadable is refused too.
    tail = signed.index(b"startxref", start)
    moved = signed[:tail] + b"STARTXREF" + signed[tail + 9 :]
    _refused(moved, original=_original(unsigned))


async def test_a_changed_original_prefix_is_refused(demo, token_service, unsigned) -> None:
    result = await _sign(token_service, demo, "org", unsigned, VISIBLE)
    other = make_pdf(2, title="Hợp đồng khác")
    detail = _refused(result.document, original=_original(other[: len(unsigned)]))
    assert "original" in detail
    # A wrong digest of the right size: refused, though the signature itself holds.
    size, _ = _original(unsigned)
    detail = _refused(result.document, original=(size, "0" * 64))
    assert "original's bytes changed" in detail
    # An "original" longer than what the signature follows cannot be its prefix.
    detail = _refused(result.document, original=(len(result.document), "0" * 64))
    assert "does not follow the original" in detail


async def test_bytes_after_the_signature_need_later_revisions(demo, token_service, unsigned):
    """Anything appended after the newest signature is refused unless the signer itself wrote
    a later revision (B-LT); then the whole file's SHA-256 still covers the appended bytes."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    result = await _sign(token_service, demo, "org", unsigned, VISIBLE)
    signed = result.document
    appended = signed + b"\n% one more line\n"
    assert "whole file" in _refused(appended, original=_original(unsigned))
    # A well-formed incremental update (another program editing the signed file's /Info).
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.set_info(
        generic.DictionaryObject(
            {generic.pdf_name("/Title"): generic.TextStringObject("Đã sửa sau khi ký")}
        )
    )
    out = io.BytesIO()
    writer.write(out)
    edited = out.getvalue()
    assert edited.startswith(signed) and len(edited) > len(signed)
    assert "whole file" in _refused(edited, original=_original(unsigned))
    allowed = _check(edited, original=_original(unsigned), later_revisions=True)
    assert allowed.sha256 == hashlib.sha256(edited).hexdigest()


async def test_b_lt_passes_only_with_later_revisions(demo, token_service, tsa) -> None:
    from agent.demo.responder import DemoResponder

    unsigned = make_pdf(1)
    root = x509.load_pem_x509_certificate(Path(demo["ca"]["root"]).read_bytes())
    options = PdfSignOptions(
        timestamp_url=tsa.url,
        long_term=True,
        trust_roots=(root.public_bytes(serialization.Encoding.DER),),
    )
    with DemoResponder(demo):
        result = await _sign(token_service, demo, "org", unsigned, options)
    assert result.level is PadesLevel.B_LT
    signed = result.document
    assert b"/DSS" in signed[_contents_span(signed)[1] :]  # the DSS comes after the signature
    assert "whole file" in _refused(signed, original=_original(unsigned))
    back = _check(signed, original=_original(unsigned), later_revisions=True)
    assert back.sha256 == hashlib.sha256(signed).hexdigest()
    assert back.fields == (result.field_name,)
    # later_revisions does not excuse a damaged signed range.
    _, start = _contents_span(signed)
    stamp_at = signed.index(b"Nguoi ky - trang 1") + 2
    assert stamp_at < start
    _refused(_flip(signed, stamp_at), later_revisions=True)


async def test_two_signatures_pass_and_both_are_checked(demo, token_service, unsigned) -> None:
    accountant = await _sign(token_service, demo, "org", unsigned, VISIBLE)
    director_options = PdfSignOptions(
        placement=Placement(1, (40, 60, 270, 135)), reason="Giám đốc duyệt"
    )
    director = await _sign(token_service, demo, "personal", accountant.document, director_options)
    both = director.document
    back = _check(both, original=_original(accountant.document))
    assert back.fields == (accountant.field_name, director.field_name)
    assert back.sha256 == hashlib.sha256(both).hexdigest()

    # The accountant's signature broken before the director signed: the director's signature
    # covers the damaged bytes and holds, the accountant's does not, so the file is refused.
    damaged = _flip(accountant.document, accountant.document.index(b"Nguoi ky - trang 2") + 2)
    with pytest.raises(KysoError):  # sanity: the damage is real
        _check(damaged)
    over_damage = await _sign(token_service, demo, "personal", damaged, director_options)
    detail = _refused(over_damage.document, original=_original(damaged))
    assert accountant.field_name in detail, detail


@pytest.mark.parametrize("keep", [0, 8, 400, -1, -40, 0.5])
async def test_a_truncated_file_is_readback_failed(demo, token_service, unsigned, keep) -> None:
    result = await _sign(token_service, demo, "org", unsigned, VISIBLE)
    signed = result.document
    cut = {0.5: len(signed) // 2}.get(keep, keep)
    assert isinstance(cut, int)
    _refused(signed[:cut])
    _refused(signed[:cut], original=_original(unsigned))
