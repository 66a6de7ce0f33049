"""``kyso-agent sign-pdf`` and ``verify-pdf``: PAdES signatures of PDF files, offline.

The same no-loss rules as ``sign-xml``: the signed copy is written atomically, never over an
existing file without --force, and --remove-unsigned deletes an original only after its signed
copy was read back from disk and every signature in it verified intact. The signed copy keeps
its name only once recorded in the audit log and read back: without its record it is deleted
(AUDIT_UNAVAILABLE), not read back (READBACK_FAILED, Ctrl-C) it becomes ``NAME.unverified``.
With --force, a file already at the output is replaced only then; any failure keeps it.

Here: the two ways a PDF is signed with a token, sign-pdf's run and the desktop signer's step
(:func:`sign_pdf_file`). The command lines are :mod:`agent.cli.pdf_args`'s, the signed copy's
write, record and read-back :mod:`agent.cli.pdf_signed_copy`'s, verify-pdf
:mod:`agent.cli.pdf_verify`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.audit import Digests
from agent.cli.common import SignatureAudit, pin_provider
from agent.cli.compose import build_token_service
from agent.cli.document_commands import signed_entry, write_failed
from agent.cli.inputs import (
    ReadFile,
    changed_after_consent,
    link_identity,
    open_input,
    placed_last,
    removal_refusal,
)
from agent.cli.output import one_line, print_json
from agent.cli.pdf_args import add_sign_parser, add_verify_parser, output_path, sign_options
from agent.cli.pdf_signed_copy import read_back, record_and_read_back, write_signed_pdf
from agent.cli.pdf_verify import run_verify_pdf
from agent.cli.targets import check_targets
from agent.cli.tokens_cmd import choose_signing_certificate
from agent.errors import KysoError
from agent.files import StagedFile
from agent.signing.signer import TokenSigner


def register(sub: Any) -> None:
    """Add sign-pdf and verify-pdf."""
    add_sign_parser(sub).set_defaults(func=run_sign_pdf)
    add_verify_parser(sub).set_defaults(func=run_verify_pdf)


async def run_sign_pdf(args: argparse.Namespace) -> int:
    """Sign one PDF with one login, streaming from the file into an atomic output (a 50 MB
    PDF is never held in memory twice); optionally remove the original after a read-back."""
    from agent.signing.pdf import inspect_pdf
    from agent.signing.pdf.inspect import fd_sha256
    from agent.signing.pdf.overlay import check_stamp_clear, stamp_check_needed
    from agent.signing.pdf.sign import Placement, check_placement, choose_field, resolve_anchor

    options = sign_options(args)
    out = output_path(args)
    link = link_identity(args.file)  # a symlink input: the link itself, before the open
    source = open_input(args.file)  # a pipe, a folder, a device: refused, never waited on
    opened = os.fstat(source.fileno())  # what --remove-unsigned may delete: this file only
    with source:
        pages: tuple[int, ...] = ()
        if options.anchor is not None:
            # broken, encrypted: refused by our reader before pypdf reads
            inspect_pdf(source, digest=False)
            options = resolve_anchor(source, options)  # not found: before the PIN too
        if options.placement is not None:
            pages = (options.placement.page,)
        # broken, encrypted: before the PIN
        facts = inspect_pdf(source, size_of_pages=pages, digest=False)
        choose_field(facts, options)  # an already signed field or a certified file: now too
        if stamp_check_needed(facts, options):
            # An earlier signature, or the document's own words, must not end under the new
            # stamp: refused, or an anchored stamp moved down to the first empty place.
            place = (options.placement.page, options.placement.box) if options.placement else None
            moved = check_stamp_clear(
                source,
                place,
                field=options.field_name,
                slide_down=options.anchor is not None,
                earlier_signers=bool(facts.signatures),
            )
            if moved is not None and moved != place:
                options = replace(options, placement=Placement(*moved))
        if options.placement is not None:
            check_placement(facts, options.placement)
        audit = SignatureAudit("sign-pdf", "pdf")
        signed_digest: Digests = {}
        with audit.covering([args.file], signed_digest):
            audit.require()  # no signature without its record: refused before the token, PIN
            # The original's SHA-256 (report, audit, read-back) is taken on a thread while the
            # token is opened and the file signed: on a 50 MB file that hides a 35 ms pass.
            hashing = asyncio.ensure_future(
                asyncio.to_thread(fd_sha256, source.fileno(), facts.size)
            )
            try:
                cert, result, copy = await _sign_with_token(
                    args, source, out, options, facts, audit
                )
            except BaseException:
                with contextlib.suppress(Exception):  # the failure's record gets it too
                    signed_digest["sha256"] = await hashing
                raise
            # --force: an earlier file at OUT is replaced only once this copy is recorded and
            # read back; any failure before keeps it.
            written = await record_and_read_back(
                copy, args.file, audit, hashing, signed_digest, facts.size, options.long_term
            )
    kept = None
    if args.remove_unsigned:  # only while the path still holds the file that was signed
        kept = removal_refusal(args.file, ReadFile.of(opened, signed_digest["sha256"], link=link))
    report = {
        "ok": True,
        "input": str(args.file),
        "output": str(out),
        "level": str(result.level),
        "note": result.note,
        "field": result.field_name,
        "visible": result.visible,
        "pages": facts.pages,
        "sha256_unsigned": signed_digest["sha256"],
        "sha256_signed": written,
        "earlier_signatures": [s.signer for s in facts.signatures],
        # Signers whose signature no longer covers what the file shows (changed after it).
        "earlier_signatures_changed_after": [s.signer for s in facts.signatures if s.changed_after],
        "removed_unsigned": args.remove_unsigned and kept is None,
        "signer": cert.info.to_json(),
        "revocation": audit.revocation,
    }
    if kept is not None:
        report["original_kept"] = kept
    if args.json:
        print_json(report)
    else:
        _print_signed(out, cert, result, facts, options)
    return 0


def _print_signed(out: Path, cert: Any, result: Any, facts: Any, options: Any) -> None:
    """sign-pdf's report in words: the copy, its signer; notes and warnings on stderr."""
    from agent.signing.pdf.active import warning_lines
    from agent.signing.pdf.fields import lock_lines
    from agent.signing.pdf.inspect import changed_after_lines

    print(
        f"Đã ký / signed: {one_line(out)} ({result.level}, ô / field {one_line(result.field_name)}"
        + (", hiển thị / visible" if result.visible else "")
        + ")\n"
        f"  Người ký / signer: {one_line(cert.info.subject_display)}"
        + (f" — MST {one_line(cert.info.mst)}" if cert.info.mst else "")
    )
    if result.note:
        sys.stderr.write(f"Lưu ý / note: {one_line(result.note)}\n")
    # Each kind of active content (script, a program, the network...), and what signing an
    # existing field locked, as the consent says.
    locked = lock_lines(facts.empty_field(result.field_name), certify=options.certify)
    changed = changed_after_lines(facts.signatures)
    for label, text in (*locked, *changed, *warning_lines(facts.active_content)):
        sys.stderr.write(f"{label}: {one_line(text)}\n")  # names from the file


async def _sign_with_token(
    args: argparse.Namespace,
    source: Any,
    out: Path,
    options: Any,
    facts: Any,
    audit: SignatureAudit,
) -> tuple[Any, Any, StagedFile]:
    """The certificate chosen and checked, the PIN, the signature written to ``out``:
    (the certificate, the signing result, the signed copy: :func:`write_signed_pdf`)."""
    from agent.signing.pdf.sign import seal_for

    async with build_token_service(args.module) as service:
        cert = await choose_signing_certificate(service, args, audit)
        seal = seal_for(options, cert.thumbprint)
        if seal is not None and facts_visible(facts, options) and not seal.is_file():
            raise KysoError("PDF_SEAL_UNREADABLE", {"path": str(seal)})  # before the PIN
        if options.long_term:  # the token's CA certificates: B-LT's chain
            cas = [c.info.der for c in await service.list_certificates() if c.info.is_ca]
            options = replace(options, ca_certs=tuple(cas))
        async with service.open_key(cert, pin_provider(args.pin_file)) as key:
            result, copy = await write_signed_pdf(
                source, out, TokenSigner(key), options, facts, force=args.force, like=args.file
            )
    return cert, result, copy


def facts_visible(facts: Any, options: Any) -> bool:
    """Whether this signature is drawn: a placement, or an existing (visible) empty field."""
    return options.placement is not None or options.field_name in facts.empty_fields


async def sign_pdf_file(
    source: Path,
    out: Path,
    signer: Any,
    *,
    remove_unsigned: bool = False,
    consented: str | None = None,
    written: Callable[[dict[str, Any], StagedFile], None] | None = None,
) -> dict[str, Any]:
    """The desktop signer's PDF step (an invisible PAdES signature in a new field): sign into
    ``out``, read it back, and only then remove ``source`` when asked; a result entry like
    sign-xml's ({file, output, ok, removed_unsigned, sha256}). ``consented``: the SHA-256 the
    consent showed; a file that no longer has it is refused before the token signs.
    ``written`` is told the entry as soon as the signed copy is on disk (its audit record, as
    sign-xml's); when it raises nothing more is done. A copy that fails its read-back is set
    aside (READBACK_FAILED names it). A system error (a name too long for the disk...) is
    WRITE_FAILED, never a traceback."""
    try:
        return await _sign_pdf_file(source, out, signer, remove_unsigned, consented, written)
    except OSError as exc:
        raise write_failed(out, exc) from exc


async def _sign_pdf_file(
    source: Path,
    out: Path,
    signer: Any,
    remove_unsigned: bool,
    consented: str | None,
    written: Callable[[dict[str, Any], StagedFile], None] | None,
) -> dict[str, Any]:
    from agent.signing.pdf import PdfSignOptions, inspect_pdf
    from agent.signing.pdf.sign import choose_field

    check_targets([(source, out)])
    if out.exists():
        raise KysoError("OUTPUT_EXISTS", {"path": str(out)})
    options = PdfSignOptions()
    link = link_identity(source)
    with open_input(source) as stream:
        opened = os.fstat(stream.fileno())
        facts = inspect_pdf(stream)  # hashes the bytes that are then signed, from this handle
        if consented is not None and facts.sha256 != consented:
            raise changed_after_consent(source)
        choose_field(facts, options)
        _, copy = await write_signed_pdf(
            stream, out, signer, options, facts, force=False, like=source
        )
    entry = signed_entry(source, out, facts.sha256)
    with placed_last(copy):  # the copy takes its name only once recorded and read back
        if written is not None:
            # Recorded before anything else: an unrecorded copy is deleted, at its temporary
            # name (whatever sits at the final name by then is not Kyso's to delete).
            written(entry, copy)
        # READBACK_FAILED unless every signature in it is intact and the original is its
        # prefix (so the signed bytes are the ones hashed, and consented to)
        await read_back(copy, (facts.size, facts.sha256))
    read = ReadFile.of(opened, facts.sha256, link=link)
    kept = removal_refusal(source, read) if remove_unsigned else None
    entry["removed_unsigned"] = remove_unsigned and kept is None
    if kept is not None:  # asked for, not done: the report says why
        entry["original_kept"] = kept
    return entry
