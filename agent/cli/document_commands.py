"""What the document commands (sign-xml / verify-xml, sign-pdf / verify-pdf) share.

The signed copy's default name, a system error while writing it as WRITE_FAILED, a file's
result entry (sign-xml's --json, the desktop signer's result window, the audit record), and
for the verify commands: the file read whole and --trust required. The files themselves are
read and removed by :mod:`agent.cli.inputs`; the audit records are :mod:`agent.cli.common`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.errors import KysoError, invalid_input
from agent.files import read_regular


def signed_name(source: Path, suffix: str) -> str:
    """The signed copy's file name: ``NAME<suffix>.EXT`` (``hoso.xml`` → ``hoso_signed.xml``)."""
    return f"{source.stem}{suffix}{source.suffix}"


def signed_copy_path(source: Path, suffix: str, out_dir: Path | None = None) -> Path:
    """Where the signed copy of ``source`` goes by default: ``signed_name`` beside it or in
    ``out_dir``. INPUT_INVALID (never a traceback) for an input with no file name ("/", ".")
    or a ``--suffix`` that would make a path rather than a name."""
    if source.name in ("", ".", ".."):
        raise invalid_input(f"{source}: not a file to sign", f"{source} không phải một tệp để ký")
    if any(c in suffix for c in "/\\\0"):
        raise invalid_input(
            f"--suffix {suffix!r}: the signed copy's name may not hold / or \\",
            f"--suffix {suffix!r}: tên bản đã ký không được chứa / hay \\",
        )
    name = signed_name(source, suffix)
    return (out_dir / name) if out_dir is not None else source.with_name(name)


def write_failed(path: Path, exc: OSError) -> KysoError:
    """WRITE_FAILED for a system error while ``path`` was written (a name too long for the
    disk, a read-only folder...): a clear code, never a traceback."""
    return KysoError("WRITE_FAILED", {"path": str(path), "detail": exc.strerror or str(exc)})


def signed_entry(source: Path, out: Path, sha256: str) -> dict[str, Any]:
    """A file's result entry once its signed copy is on disk (``sha256``: of the bytes that
    were signed, for the audit record); ``removed_unsigned`` is set after the read-back."""
    return {
        "file": str(source),
        "output": str(out),
        "ok": True,
        "removed_unsigned": False,
        "sha256": sha256,
    }


def failed_entry(source: Path, error: KysoError) -> dict[str, Any]:
    """A file's result entry when it was not signed, with the error's code and texts."""
    return {"file": str(source), "ok": False, "error": error.to_dict()}


# sign-pdf streams a PDF of any size: verify-pdf must read back what it signs (held whole).
PDF_VERIFY_MAX_BYTES = 1024 * 1024 * 1024


def read_whole(path: Path, *, max_bytes: int | None = None) -> bytes:
    """A file to verify (or a certificate), read whole: a regular file (a pipe is refused,
    never waited on) of at most ``max_bytes`` (default: the document limit and 1 MB for what
    a signature adds to a document at the limit), so /dev/zero or a huge file cannot fill
    memory; INPUT_INVALID when it cannot be read."""
    from agent.config.policy import document_limit

    if max_bytes is None:
        max_bytes = document_limit() + 1024 * 1024
    return read_regular(path, max_bytes=max_bytes)


def require_trust(trust: list[str]) -> None:
    """The verify commands judge a signature only against roots the user names (--trust)."""
    if not trust:
        raise invalid_input(
            "give the trusted CA certificates with --trust",
            "hãy đưa chứng thư các CA tin cậy bằng --trust",
        )
