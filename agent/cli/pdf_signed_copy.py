"""A PDF's signed copy, from the write to the read-back: nothing is lost on the way.

The copy is written atomically, never over an existing file unless asked; it keeps its name
only once recorded in the audit log and read back from disk with every signature intact and
the original its unchanged prefix. Without its record it is deleted (AUDIT_UNAVAILABLE: no
signature without its record); not read back (READBACK_FAILED, Ctrl-C) it becomes
``NAME.unverified``. A copy that replaces an earlier file (``--force``) waits at its temporary
name until both are done, and only then replaces it: any failure keeps the earlier file.
The original is never touched here (its removal is the caller's, after).
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from agent.audit import Digests
from agent.cli.common import SignatureAudit
from agent.cli.document_commands import write_failed
from agent.cli.inputs import (
    copy_paths,
    placed_last,
    set_aside_saying,
    unverified,
    written_copy,
)
from agent.errors import KysoError, invalid_input
from agent.files import StagedFile, staged_output


async def write_signed_pdf(
    source: Any,
    out: Path,
    signer: Any,
    options: Any,
    facts: Any,
    *,
    force: bool,
    like: Path | None = None,
) -> tuple[Any, StagedFile]:
    """Sign the open PDF ``source`` into ``out`` atomically (never over an existing file
    unless ``force``): (the pyHanko result, the signed copy), still at its temporary name: it
    takes its name (or replaces an earlier file, ``force``) only in
    :func:`record_and_read_back`, once it is recorded and read back. The original is never
    touched here. ``like``: the original's path, whose permissions the signed file gets
    (limited by the umask)."""
    from agent.signing.pdf.sign import sign_pdf_stream

    try:
        with staged_output(out, overwrite=force, like=like) as staged:
            result = await sign_pdf_stream(source, staged.handle, signer, options, facts=facts)
        return result, written_copy(staged)
    except FileExistsError as exc:
        raise KysoError("OUTPUT_EXISTS", {"path": str(out)}) from exc
    except OSError as exc:
        raise write_failed(out, exc) from exc


async def record_and_read_back(
    copy: StagedFile,
    file: Path,
    audit: SignatureAudit,
    hashing: Awaitable[str],
    signed_digest: Digests,
    size: int,
    later_revisions: bool,
) -> str:
    """The signed copy just written (:func:`write_signed_pdf`): its audit record, then its
    read-back; the copy's SHA-256. The copy keeps its name only once both are done; one that
    replaces an earlier file (``--force``) replaces it only then (:func:`placed_last`), and
    any failure before keeps the earlier file as it was. Without its record it is deleted
    (AUDIT_UNAVAILABLE: no signature without its record). Not read back (READBACK_FAILED, the
    original no longer readable for its hash, Ctrl-C) it is renamed ``<name>.unverified`` and
    named: in the error, or on stderr. The original is untouched."""
    with placed_last(copy):
        try:
            signed_digest["sha256"] = await _original_digest(hashing, file)
        except BaseException as exc:
            # The copy exists: recorded as signed (it is), then out of the way (never read back).
            if not audit.record(file, "OK", signed_digest):
                unrecorded = audit.unrecorded(copy)  # deleted
                if isinstance(exc, KysoError):
                    raise unrecorded from exc
                raise  # Ctrl-C stays an interruption
            aside = set_aside_saying(copy)
            if isinstance(exc, KysoError):
                left = {
                    "output": str(copy.target),
                    "set_aside": None if aside is None else str(aside),
                }
                raise KysoError(exc.code, {**exc.details, **left}) from exc
            raise
        if not audit.record(file, "OK", signed_digest):
            raise audit.unrecorded(copy)
        try:
            return await read_back(
                copy, (size, signed_digest["sha256"]), later_revisions=later_revisions
            )
        except KysoError:
            raise  # READBACK_FAILED: the copy already set aside, and named in the error
        except BaseException:  # interrupted (a second Ctrl-C) before the check ended
            set_aside_saying(copy)
            raise


async def _original_digest(hashing: Awaitable[str], path: Path) -> str:
    try:
        return await hashing
    except OSError as exc:
        raise invalid_input(f"cannot read {path}: {exc}", f"không đọc được {path} ({exc})") from exc


async def read_back(
    copy: Path | StagedFile,
    original: tuple[int, str] | None = None,
    *,
    later_revisions: bool = False,
) -> str:
    """Read the signed file back from disk (at its path, or at its temporary name while it
    waits to replace an earlier file): every signature in it must be intact (each covers its
    bytes, the new one the whole file) and ``original`` ((size, SHA-256) of the file that was
    signed) its unchanged prefix. Returns the file's SHA-256. Otherwise READBACK_FAILED, the
    file set aside first as ``<name>.unverified`` (its ``path``): a copy that failed its
    check never stays under the name of a signed file."""
    from agent.signing.pdf.readback import check_signed_pdf

    path, name = copy_paths(copy)
    try:
        with path.open("rb") as on_disk:  # closed before it is renamed (Windows)
            return check_signed_pdf(
                on_disk, path=str(name), original=original, later_revisions=later_revisions
            ).sha256
    except KysoError as exc:
        raise unverified(copy, str(exc.details.get("detail", exc))) from exc
    except OSError as exc:
        raise unverified(copy, str(exc)) from exc
