"""``kyso-agent sign-xml`` and ``verify-xml``: the offline dossier signer (iBHXH-Signing step).

Nothing is ever lost: signed files are written atomically and never over an existing file
without --force; --remove-unsigned deletes an original only after its signed file was written,
read back and its signature checked against the signer's own certificate (the chain is the
portal's concern; the read-back proves the bytes on disk are the ones we signed). Any failure
leaves the original untouched; a signed copy that fails its read-back is renamed
``NAME.unverified``, one whose audit record fails is deleted and the batch stops there. With
--force, a file already at the output is replaced only once its new copy is recorded (and read
back): any failure keeps it. One token login serves the whole batch.

Here: the signing run (one login, each file signed, written, recorded, read back, its original
removed), which the desktop signer uses too (:func:`sign_batch`). The command lines are
:mod:`agent.cli.xml_args`'s, the checks before the PIN :mod:`agent.cli.xml_inputs`'s, the
report :mod:`agent.cli.xml_report`'s, verify-xml :mod:`agent.cli.xml_verify`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.cli.common import SignatureAudit, copy_deleted, pin_provider
from agent.cli.document_commands import failed_entry, signed_entry, write_failed
from agent.cli.inputs import (
    ReadFile,
    held,
    link_identity,
    open_input,
    placed_last,
    removal_refusal,
    set_aside_saying,
    unverified,
    written_copy,
)
from agent.cli.output import internal_error
from agent.cli.targets import check_targets, same_file
from agent.cli.tokens_cmd import choose_signing_certificate
from agent.cli.xml_args import add_sign_parser, add_verify_parser, output_path, profile_options
from agent.cli.xml_inputs import precheck_files, read_consented
from agent.cli.xml_report import in_order, print_report
from agent.cli.xml_verify import run_verify
from agent.errors import ErrorGroup, KysoError, invalid_input
from agent.files import StagedFile, stage_write
from agent.signing.signer import Signer, TokenSigner
from agent.signing.xml import check_xml_signature, sign_xml, sign_xml_file
from agent.signing.xml.profiles import XmlProfile, get_profile

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add sign-xml and verify-xml."""
    add_sign_parser(sub).set_defaults(func=run_sign)
    add_verify_parser(sub).set_defaults(func=run_verify)


async def sign_one(
    source: Path,
    target: Path,
    signer: Signer,
    args: argparse.Namespace,
    written: Callable[[dict[str, Any], StagedFile], None] | None = None,
) -> dict[str, Any]:
    """Sign one file; never touches ``source`` unless --remove-unsigned and all went well.
    ``written`` is told the result and the copy as soon as the signed copy is on disk (its
    audit record, before the read-back: an interruption then cannot leave a signed copy
    unrecorded); when it raises (AUDIT_UNAVAILABLE: the record failed, the copy deleted)
    nothing more is done. A read-back that fails sets the copy aside as
    ``<name>.unverified`` (READBACK_FAILED names it). With --force, a file already at
    ``target`` is replaced only once the copy is recorded and read back; any failure before
    keeps it (the error's ``earlier_kept``). An unexpected system error (a name too long for
    the disk...) is WRITE_FAILED."""
    try:
        return await _sign_one(source, target, signer, args, written)
    except OSError as exc:
        raise write_failed(target, exc) from exc


async def _sign_one(
    source: Path,
    target: Path,
    signer: Signer,
    args: argparse.Namespace,
    written: Callable[[dict[str, Any], StagedFile], None] | None,
) -> dict[str, Any]:
    if target.exists() and not args.force:
        raise KysoError("OUTPUT_EXISTS", {"path": str(target)})
    if args.remove_unsigned and same_file(target, source):
        raise invalid_input(
            "--remove-unsigned with the output on the input",
            "--remove-unsigned không dùng được khi tệp kết quả chính là tệp gốc",
        )
    signed, read = await _sign_document(source, signer, args)
    try:
        copy = written_copy(stage_write(target, signed, overwrite=args.force, like=source))
    except FileExistsError as exc:
        raise KysoError("OUTPUT_EXISTS", {"path": str(target)}) from exc
    except OSError as exc:
        detail = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise KysoError("WRITE_FAILED", {"path": str(target), "detail": detail}) from exc
    entry = signed_entry(source, target, read.sha256)  # its SHA-256: for the audit record
    try:
        # --force: an earlier file at target is replaced only at the end of this block.
        with placed_last(copy):
            if written is not None:
                written(entry, copy)
            # With --force the copy may replace a file (signing in place replaces the
            # original; one may appear at the name meanwhile): read back first, as one whose
            # original is then removed. A file is deleted only for a copy verified on disk
            # (red team 41, review 41).
            if args.remove_unsigned or args.force:
                _read_back(copy, signed, signer, args.profile)
    except BaseException as exc:
        if not isinstance(exc, KysoError) and not copy.placed:
            # Stopped before the copy took its name: the report must not say "signed".
            details = {"output": str(target)}
            if held(copy):  # and the earlier file at that name is as it was
                details["earlier_kept"] = str(target)
            entry.clear()
            entry.update(failed_entry(source, KysoError("USER_CANCELLED", details)))
        raise
    if args.remove_unsigned:
        # Only the file that was read and signed: one saved over it meanwhile is kept.
        kept = removal_refusal(source, read)
        entry["removed_unsigned"] = kept is None
        if kept is not None:  # asked for, not done: the report says why
            entry["original_kept"] = kept
    return entry


def _read_back(copy: StagedFile, signed: bytes, signer: Signer, profile: str) -> None:
    """The copy on disk must be the bytes signed, its signature verified with the signer's
    certificate; else READBACK_FAILED, the copy set aside. A copy interrupted here (still at
    its temporary name) is set aside too: never read back, never placed."""
    try:
        back = copy.current.read_bytes()
        result = check_xml_signature(back, profile=profile)
        if back != signed or result.signer.der != signer.certificate.der:
            raise KysoError("SIGNATURE_INVALID", {"detail": "read-back differs"})
    except (OSError, KysoError) as exc:
        raise unverified(copy, str(exc)) from exc
    except BaseException:
        if not copy.placed:  # interrupted here: never read back, so never under its name
            set_aside_saying(copy)
        raise


async def _sign_document(
    source: Path, signer: Signer, args: argparse.Namespace
) -> tuple[bytes, ReadFile]:
    """(signed bytes, what was read). With ``args.consented_sha256`` (the desktop signer: the
    SHA-256 its consent showed) the bytes are read once (within ``max_document_bytes``),
    compared and those very bytes signed: a file changed after the consent is refused before
    the token signs. Otherwise the file is parsed in chunks (a 50 MB dossier's bytes are never
    beside its tree) and its identity is compared around the read."""
    consented = getattr(args, "consented_sha256", None)
    if consented:
        document, read = read_consented(source, consented)
        return await sign_xml(document, signer, args.profile, **profile_options(args)), read
    link = link_identity(source)  # a symlink input: the link itself, before the open
    with open_input(source) as handle:  # a pipe or a device put there since: refused now
        before = os.fstat(handle.fileno())
    document, signed = await sign_xml_file(source, signer, args.profile, **profile_options(args))
    changed = invalid_input(
        f"{source} changed while it was being signed",
        f"tệp {source} đã thay đổi trong lúc đang ký",
    )
    try:
        after = os.stat(source)
    except OSError as exc:
        raise changed from exc
    read = ReadFile.of(after, hashlib.sha256(document).hexdigest(), link=link)
    if not read.same_identity(before) or len(document) != after.st_size:
        raise changed
    return signed, read


async def run_sign(args: argparse.Namespace) -> int:
    """Sign every FILE with one token login; print a summary; exit 1 if any failed."""
    if args.output is not None and len(args.files) > 1:
        raise invalid_input(
            "-o works with one file; use --out-dir for several",
            "-o chỉ dùng khi ký một tệp; ký nhiều tệp thì dùng --out-dir",
        )
    # Every output planned before anything is signed: two files to one output, or an output
    # over another input, refuse the whole run (--force only replaces files from before it).
    check_targets(
        [(source, output_path(source, args)) for source in args.files],
        own_input=not args.remove_unsigned,
    )
    # Bad options, SHA-1 and an EC key the profile's portals cannot verify: all refused
    # before the PIN is asked.
    profile = get_profile(args.profile, **profile_options(args))
    profile.check_algorithms(ecdsa=False)
    # Each file checked before the PIN (a pipe, a folder, malformed, no container...): one
    # that would fail anyway is reported now and never reaches the token.
    outputs = None if args.force else {f: output_path(f, args) for f in args.files}
    todo, results = precheck_files(args.files, profile, outputs)
    audit = SignatureAudit("sign-xml", "xml", profile=args.profile)
    try:
        with audit.covering(args.files):  # a file never reached still gets its record
            for entry in results:
                audit.result(entry)
            if todo:
                await _sign_with_token(todo, args, profile, audit, results)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Interrupted (Ctrl-C, SIGTERM, the terminal closed): say which files were signed
        # (the rest: USER_CANCELLED). A closed terminal cannot show it: the run still stops.
        with contextlib.suppress(OSError):
            done = in_order(results, args.files, KysoError("USER_CANCELLED"))
            print_report(done, args, interrupted=True, revocation=audit.revocation)
            sys.stdout.flush()
        raise
    return print_report(in_order(results, args.files), args, revocation=audit.revocation)


async def _sign_with_token(
    todo: list[Path],
    args: argparse.Namespace,
    profile: XmlProfile,
    audit: SignatureAudit,
    results: list[dict[str, Any]],
) -> None:
    """One login for the files in ``todo``; their outcomes are added to ``results``."""
    from agent.cli.compose import build_token_service

    audit.require()  # no signature without its record: refused before the token, the PIN
    async with build_token_service(args.module) as service:
        # Expired, not yet valid, not for signing or revoked: refused before the PIN unless
        # --allow-invalid-certificate (a warning then); status unknown: a warning line.
        cert = await choose_signing_certificate(service, args, audit)
        profile.check_algorithms(ecdsa=cert.info.key_type == "EC")
        async with service.open_key(cert, pin_provider(args.pin_file)) as key:
            await sign_batch(todo, TokenSigner(key), args, audit, results)


async def sign_batch(
    files: list[Path],
    signer: Signer,
    args: argparse.Namespace,
    audit: SignatureAudit | None = None,
    results: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Sign each file in turn (a failure is recorded and the batch goes on); each outcome goes
    to the audit log as soon as it is known, a signed file's as soon as its copy is written.
    Once a record cannot be stored, nothing more is signed: a signed copy without its record
    is deleted, it and every later file get AUDIT_UNAVAILABLE, the earlier ones stay signed.
    ``results``: the list to fill, so that a caller interrupted meanwhile knows what was done."""
    from tqdm import tqdm

    results = [] if results is None else results
    recorded = len(results)  # results already in the audit log
    # The bar redraws itself with carriage returns: only on a terminal (in a log file they are
    # one long line), and on the raw stream (it shows counts only, nothing from a file, so it
    # needs none of the inert wrapper's escaping, which would print its \r as text).
    terminal = sys.__stderr__ if sys.__stderr__ is not None and sys.__stderr__.isatty() else None
    bar = tqdm(
        files,
        unit="file",
        file=terminal,
        disable=args.json or len(files) < 2 or terminal is None,
        desc="sign-xml",
    )
    for index, source in enumerate(bar):
        if audit is not None and audit.failed:
            # A record of this run failed: the next signature would have none either.
            results += refuse_unrecorded(files[index:], audit)
            break
        # This file's entry once its signed copy is on disk (the very dict: an interruption
        # before a --force copy replaced its earlier file turns it into a failure).
        done: list[dict[str, Any]] = []
        try:
            session_ended = await _batch_item(
                source, files[index + 1 :], signer, args, _recorder(audit, done), done, results
            )
        finally:
            if audit is not None:
                for entry in results[recorded:]:
                    # Recorded at the write, unless that record was lost and the copy
                    # deleted (its line taken back): then this failure is the file's record.
                    if not (done and entry["file"] == done[0]["file"]) or copy_deleted(entry):
                        audit.result(entry)
            recorded = len(results)
        if session_ended:
            break
    bar.close()
    return results


async def _batch_item(
    source: Path,
    rest: list[Path],
    signer: Signer,
    args: argparse.Namespace,
    written: Callable[[dict[str, Any], StagedFile], None],
    done: list[dict[str, Any]],
    results: list[dict[str, Any]],
) -> bool:
    """Sign one file of a batch into ``results``; True when the key session ended with it
    (``rest`` then gets the same error without being tried)."""
    try:
        results.append(await sign_one(source, output_path(source, args), signer, args, written))
    except KysoError as exc:
        results.append(failed_entry(source, exc))
        if exc.is_(
            ErrorGroup.TOKEN_GONE, ErrorGroup.TOKEN_FAULT, ErrorGroup.PIN, ErrorGroup.CANCELLED
        ):
            # The key session is gone: the rest cannot be signed either.
            results.extend(failed_entry(other, exc) for other in rest)
            return True
    except Exception as exc:
        # A fault Kyso did not foresee, met on this file: that file's INTERNAL_ERROR (the
        # trace with -v), and the batch goes on; a copy already written stays signed.
        log.debug("signing %s failed unexpectedly", source, exc_info=True)
        results.append(dict(done[0]) if done else failed_entry(source, internal_error(exc)))
    except BaseException:
        if done:  # interrupted after the write: that file is signed (and recorded)
            results.append(dict(done[0]))
        raise
    return False


def _recorder(
    audit: SignatureAudit | None, done: list[dict[str, Any]]
) -> Callable[[dict[str, Any], StagedFile], None]:
    """:func:`sign_one`'s ``written``: the entry kept in ``done`` and recorded; a copy whose
    record cannot be stored is deleted there (AUDIT_UNAVAILABLE: no signature without it),
    at its temporary name when it was to replace an earlier file (kept then)."""

    def written(entry: dict[str, Any], copy: StagedFile) -> None:
        done.append(entry)
        if audit is not None and not audit.result(entry):
            raise audit.unrecorded(copy)

    return written


def refuse_unrecorded(files: list[Path], audit: SignatureAudit) -> list[dict[str, Any]]:
    """AUDIT_UNAVAILABLE entries for ``files``, not tried since a record failed (each is
    recorded all the same: the log may take them later, with the records still waiting)."""
    refusal = audit.refusal()
    entries = [failed_entry(source, refusal) for source in files]
    for entry in entries:
        audit.result(entry)
    return entries
