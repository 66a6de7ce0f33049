"""Read a signed PDF back from disk before anything is reported done (the no-loss rule).

What is checked: the file parses; the original's bytes are its unchanged prefix (when the
original's size and SHA-256 are given); every signature's CMS matches the digest of the bytes
its /ByteRange names, and the newest one covers the whole file except its own /Contents.

Why not pyHanko's full validation: on a 50 MB file it hashed the file once per signature and
the caller hashed it once more for the report. Here one sequential read gives the new
signature's byte-range digest, the whole file's SHA-256 and the original-prefix check: the three
share one SHA-256 state up to where they part (``hash.copy()``), so a 50 MB file is hashed
once. Earlier signatures (older revisions, wholly inside the original prefix) are checked with
pyHanko's own byte-range digest, as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, BinaryIO

from agent.errors import KysoError
from agent.signing.pdf.inspect import open_reader

CHUNK = 1 << 18


@dataclass(frozen=True)
class ReadBack:
    """What the read-back found: the file's SHA-256 and the signatures it checked."""

    sha256: str
    fields: tuple[str, ...]


def _fail(path: str, detail: str) -> KysoError:
    return KysoError("READBACK_FAILED", {"path": path, "detail": detail})


def check_signed_pdf(
    stream: BinaryIO,
    *,
    path: str = "",
    original: tuple[int, str] | None = None,
    later_revisions: bool = False,
) -> ReadBack:
    """Check the signed PDF in ``stream`` (seekable, read in place); READBACK_FAILED with a
    detail otherwise. ``original``: (size, SHA-256 hex) of the file that was signed, which
    must be the signed file's prefix byte for byte. ``later_revisions``: the signer appended
    an incremental update after the signature (B-LT's DSS), so the newest signature may end
    before the file does."""
    from pyhanko.pdf_utils.misc import PdfReadError

    try:
        signatures = open_reader(stream).embedded_regular_signatures
    except KysoError as exc:
        raise _fail(path, exc.code) from exc
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {exc}") from exc
    if not signatures:
        raise _fail(path, "no signature")
    size = stream.seek(0, 2)
    ranges = [_byte_range(sig, size, path) for sig in signatures]
    last_end = max(r[2] + r[3] for r in ranges)
    newest = [i for i, r in enumerate(ranges) if r[2] + r[3] == last_end]
    if len(newest) != 1 or (last_end != size and not later_revisions):
        raise _fail(path, "no signature covers the whole file")
    index = newest[0]
    sig = signatures[index]
    signed_digest, whole = _one_pass(stream, ranges[index], size, original, path)
    if sig.external_md_algorithm != "sha256":  # not Kyso's; pyHanko hashes it on its own
        signed_digest = _earlier_digest(sig, path)
    _check_cms(sig, signed_digest, path)
    for n, other in enumerate(signatures):
        if n != index:
            _check_cms(other, _earlier_digest(other, path), path)
    return ReadBack(whole, tuple(str(s.field_name) for s in signatures))


def _byte_range(sig: Any, size: int, path: str) -> tuple[int, int, int, int]:
    """The signature's /ByteRange, refused unless it is [0 a b c] with 0 ≤ a ≤ b, b+c ≤ size."""
    try:
        values = tuple(int(v) for v in sig.byte_range)
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"{sig.field_name}: unreadable /ByteRange") from exc
    if len(values) != 4 or values[0] != 0:
        raise _fail(path, f"{sig.field_name}: /ByteRange {values}")
    _, first, start, length = values
    if not (0 <= first <= start and length >= 0 and start + length <= size):
        raise _fail(path, f"{sig.field_name}: /ByteRange {values} outside the file")
    return values[0], first, start, length


def _one_pass(
    stream: BinaryIO,
    byte_range: tuple[int, int, int, int],
    size: int,
    original: tuple[int, str] | None,
    path: str,
) -> tuple[bytes, str]:
    """The byte-range SHA-256 of the newest signature and the whole file's SHA-256, in one
    sequential read; the original's prefix is compared on the way."""
    _, first, start, length = byte_range
    covered = hashlib.sha256()
    stream.seek(0)
    prefix = original[0] if original is not None and original[0] <= first else None
    if original is not None and prefix is None:
        raise _fail(path, "the signature does not follow the original's bytes")
    if prefix is not None and original is not None:
        _feed(stream, prefix, (covered,), path)
        if covered.copy().hexdigest() != original[1]:
            raise _fail(path, "the original's bytes changed in the signed copy")
    _feed(stream, first - (prefix or 0), (covered,), path)
    whole = covered.copy()
    _feed(stream, start - first, (whole,), path)  # the /Contents: not covered by the signature
    _feed(stream, length, (covered, whole), path)
    _feed(stream, size - start - length, (whole,), path)  # a later revision (B-LT's DSS)
    return covered.digest(), whole.hexdigest()


def _feed(stream: BinaryIO, count: int, hashes: tuple[Any, ...], path: str) -> None:
    """Read ``count`` bytes from the stream's position into every hash in ``hashes``."""
    while count > 0:
        chunk = stream.read(min(CHUNK, count))
        if not chunk:
            raise _fail(path, "the file is shorter than its signature says")
        for digest in hashes:
            digest.update(chunk)
        count -= len(chunk)


def _earlier_digest(sig: Any, path: str) -> bytes:
    """pyHanko's digest of ``sig``'s byte range, in the signature's own algorithm."""
    try:
        return bytes(sig.compute_digest())
    except (ValueError, OSError, KeyError) as exc:
        raise _fail(path, f"{sig.field_name}: {exc}") from exc


def _check_cms(sig: Any, digest: bytes, path: str) -> None:
    """The CMS signs ``digest`` (messageDigest attribute and the signature over the signed
    attributes, with the embedded signer certificate's key)."""
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    try:  # pyHanko's SignatureValidationError is a ValueError
        intact, valid = validate_sig_integrity(sig.signer_info, sig.signer_cert, "data", digest)
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(path, f"{sig.field_name}: {exc}") from exc
    if not (intact and valid):
        raise _fail(path, f"{sig.field_name} not intact")
