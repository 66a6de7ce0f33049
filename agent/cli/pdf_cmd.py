"""``kyso-agent sign-pdf`` and ``verify-pdf``: PAdES signatures of PDF files, offline.

The same no-loss rules as ``sign-xml``: the signed copy is written atomically, never over an
existing file without --force, and --remove-unsigned deletes an original only after its signed
copy was read back from disk and every signature in it verified intact. The signed copy keeps
its name only once recorded in the audit log and read back: without its record it is deleted
(AUDIT_UNAVAILABLE), not read back (READBACK_FAILED, Ctrl-C) it becomes ``NAME.unverified``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.audit import Digests
from agent.cli.common import (
    SignatureAudit,
    add_module_argument,
    add_signing_arguments,
    pin_provider,
)
from agent.cli.compose import build_token_service
from agent.cli.inputs import (
    ReadFile,
    changed_after_consent,
    link_identity,
    open_input,
    remove_original,
    set_aside_saying,
    unverified,
)
from agent.cli.output import print_json
from agent.cli.targets import check_targets
from agent.cli.tokens_cmd import add_allow_invalid_argument, choose_signing_certificate
from agent.errors import KysoError
from agent.files import atomic_output
from agent.signing.signer import TokenSigner

SIGN_HELP = """\
Ký số tệp PDF (PAdES) bằng USB token / sign PDF files (PAdES) with your USB token.

Examples:
  kyso-agent sign-pdf hopdong.pdf                     invisible signature → hopdong_signed.pdf
  kyso-agent sign-pdf hopdong.pdf --page 2 --box 330,60,560,135
                                                      a visible stamp: "Ký bởi: …, MST, Ngày ký"
  kyso-agent sign-pdf hopdong.pdf --field ChuKyGiamDoc   sign an existing empty field
  kyso-agent sign-pdf hopdong.pdf --anchor "Giám đốc"   a stamp just below that line
  kyso-agent sign-pdf hopdong.pdf --tsa http://tsa.example.vn/tsr   PAdES-B-T (timestamp)
  kyso-agent sign-pdf hopdong.pdf --tsa URL --long-term   PAdES-B-LT (+ revocation data)
  kyso-agent sign-pdf hopdong.pdf --certify           certify: no later changes allowed

Boxes are in points (1/72 inch) from the page's bottom-left corner; an A4 page is 595 × 842.
A second signature on an already signed PDF is added as an incremental update, so earlier
signatures stay valid. The PIN is asked on the terminal (not shown) unless --pin-file or
$KYSO_PIN_FILE is given. Existing files are never overwritten without --force, the original
never (the output may not be the input, through a link either); the signed file gets the
original's permissions (limited by the umask).
A seal configured for the certificate ([pdf_seals] in config.toml) is drawn in a visible
stamp unless --seal names another. --long-term gathers the chain and its OCSP/CRL answers up
to a root given with --trust (or a self-signed CA certificate on the token); when they cannot
be fetched the signature is PAdES-B-T and the report says why.
"""

VERIFY_HELP = """\
Kiểm tra chữ ký số trong tệp PDF / verify the signatures in a PDF.

Example:
  kyso-agent verify-pdf hopdong_signed.pdf --trust ca-chain.pem --crl ca.crl

Each signature is listed with its signer, time, PAdES level (B-B, B-T, B-LT) and whether it
covers the whole file. Exit status: 0 all valid, 2 one or more not valid.
"""


def register(sub: Any) -> None:
    """Add sign-pdf and verify-pdf."""
    p = sub.add_parser(
        "sign-pdf",
        help="sign PDF files (PAdES, visible or invisible)",
        description=SIGN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", type=Path)
    add_signing_arguments(p)  # --cert, --token, --pin-file
    p.add_argument("-o", "--output", type=Path, metavar="OUT", help="output file")
    p.add_argument("--suffix", default="_signed", help="added to the file name (default: _signed)")
    p.add_argument("--page", type=int, metavar="N", help="visible stamp on page N (from 1)")
    p.add_argument("--box", metavar="X1,Y1,X2,Y2", help="the stamp's box in points (with --page)")
    p.add_argument("--field", metavar="NAME", help="sign this existing empty signature field")
    p.add_argument("--seal", type=Path, metavar="PNG", help="the unit's seal image (PNG)")
    p.add_argument("--font", type=Path, metavar="TTF", help="font for the stamp (Vietnamese)")
    p.add_argument("--reason", help="reason shown in PDF readers (e.g. 'Giám đốc duyệt')")
    p.add_argument("--location", help="location shown in PDF readers")
    p.add_argument("--tsa", metavar="URL", help="RFC 3161 timestamp authority: PAdES-B-T")
    p.add_argument(
        "--long-term",
        action="store_true",
        help="PAdES-B-LT: embed the chain and its revocation answers (needs --tsa)",
    )
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CA",
        help="root CA certificate(s) for --long-term, PEM or DER (repeatable)",
    )
    p.add_argument("--anchor", metavar="TEXT", help="visible stamp just below this text")
    p.add_argument("--anchor-page", type=int, metavar="N", help="look for --anchor on page N")
    p.add_argument(
        "--certify", action="store_true", help="certification signature: forbid later changes"
    )
    p.add_argument(
        "--remove-unsigned",
        action="store_true",
        help="delete the original after its signed copy was written and verified",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite an output file that existed before (never the original)",
    )
    add_allow_invalid_argument(p)
    add_module_argument(p)
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=run_sign_pdf)

    v = sub.add_parser(
        "verify-pdf",
        help="verify the signatures in a PDF",
        description=VERIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("file", metavar="FILE", type=Path)
    v.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CA",
        help="trusted CA certificates, PEM or DER (repeatable; at least one root)",
    )
    v.add_argument("--crl", action="append", default=[], metavar="CRL", help="CRLs (repeatable)")
    v.add_argument(
        "--no-revocation",
        action="store_true",
        help="do not insist on revocation data (check only the CRLs given)",
    )
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=run_verify_pdf)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KysoError("INPUT_INVALID", {"detail": f"cannot read {path}: {exc.strerror}"}) from exc


def sign_options(args: argparse.Namespace) -> Any:
    """The signing options from the command line, checked before any PIN is asked."""
    from agent.signing.pdf import PdfSignOptions, Placement

    placement = None
    if (args.page is None) != (args.box is None):
        raise KysoError("INPUT_INVALID", {"detail": "--page and --box go together"})
    if args.anchor is not None and args.page is not None:
        raise KysoError("INPUT_INVALID", {"detail": "--anchor or --page/--box, not both"})
    if args.long_term and not args.tsa:
        raise KysoError("INPUT_INVALID", {"detail": "--long-term needs a timestamp: --tsa URL"})
    if args.page is not None:
        try:
            x1, y1, x2, y2 = (float(v) for v in args.box.split(","))
        except ValueError as exc:
            raise KysoError(
                "INPUT_INVALID", {"detail": "--box is four numbers: X1,Y1,X2,Y2"}
            ) from exc
        placement = Placement(args.page, (x1, y1, x2, y2))
    return PdfSignOptions(
        field_name=args.field,
        placement=placement,
        reason=args.reason,
        location=args.location,
        certify=args.certify,
        seal_png=args.seal,
        seals=_configured_seals(),
        timestamp_url=args.tsa,
        long_term=args.long_term,
        trust_roots=_trust_roots(args.trust) if args.long_term else (),
        anchor=args.anchor,
        anchor_page=args.anchor_page,
        font_path=args.font,
    )


def _configured_seals() -> tuple[tuple[str, str], ...]:
    """The seals of config.toml / the policy ([pdf_seals]: thumbprint = PNG path)."""
    from agent.config.policy import load_settings

    return load_settings({}).pdf_seals


def _trust_roots(paths: list[str]) -> tuple[bytes, ...]:
    """DER roots for B-LT: the --trust files, else the demo PKI's when a demo exists (the
    token's own self-signed CA certificates are added once the token is open)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if not paths:
        from agent.demo.manifest import trust_files

        paths = trust_files()[0]
    roots: list[bytes] = []
    for path in paths:
        data = _read(Path(path))
        try:
            certs = (
                x509.load_pem_x509_certificates(data)
                if b"-----BEGIN" in data
                else [x509.load_der_x509_certificate(data)]
            )
        except ValueError as exc:
            raise KysoError("INPUT_INVALID", {"detail": f"{path}: not a certificate"}) from exc
        roots += [c.public_bytes(Encoding.DER) for c in certs]
    return tuple(roots)


def output_path(args: argparse.Namespace) -> Path:
    """Where the signed copy goes (refused now if it exists and --force is absent)."""
    source: Path = args.file
    out = args.output or source.with_name(f"{source.stem}{args.suffix}{source.suffix}")
    # The output is never the original (symbolic or hard link included), even with --force.
    check_targets([(source, out)])
    if out.exists() and not args.force:
        raise KysoError("OUTPUT_EXISTS", {"path": str(out)})
    return out


async def run_sign_pdf(args: argparse.Namespace) -> int:
    """Sign one PDF with one login, streaming from the file into an atomic output (a 50 MB
    PDF is never held in memory twice); optionally remove the original after a read-back."""
    from agent.signing.pdf import inspect_pdf
    from agent.signing.pdf.active import warning_lines
    from agent.signing.pdf.fields import lock_lines
    from agent.signing.pdf.inspect import fd_sha256
    from agent.signing.pdf.sign import check_placement, choose_field, resolve_anchor

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
                cert, result = await _sign_with_token(args, source, out, options, facts, audit)
            except BaseException:
                with contextlib.suppress(Exception):  # the failure's record gets it too
                    signed_digest["sha256"] = await hashing
                raise
            written = await _record_and_read_back(
                out, args.file, audit, hashing, signed_digest, facts.size, options.long_term
            )
    removed = False
    if args.remove_unsigned:  # only while the path still holds the file that was signed
        removed = remove_original(
            args.file, ReadFile.of(opened, signed_digest["sha256"], link=link)
        )
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
        "removed_unsigned": removed,
        "signer": cert.info.to_json(),
    }
    if args.json:
        print_json(report)
    else:
        print(
            f"Đã ký / signed: {out} ({result.level}, ô / field {result.field_name}"
            + (", hiển thị / visible" if result.visible else "")
            + ")\n"
            f"  Người ký / signer: {cert.info.subject_display}"
            + (f" — MST {cert.info.mst}" if cert.info.mst else "")
        )
        if result.note:
            sys.stderr.write(f"Lưu ý / note: {result.note}\n")
        # Each kind of active content (script, a program, the network...), and what signing an
        # existing field locked, as the consent says.
        locked = lock_lines(facts.empty_field(result.field_name), certify=options.certify)
        for label, text in (*locked, *warning_lines(facts.active_content)):
            sys.stderr.write(f"{label}: {text}\n")
    return 0


async def _record_and_read_back(
    out: Path,
    file: Path,
    audit: SignatureAudit,
    hashing: Awaitable[str],
    signed_digest: Digests,
    size: int,
    later_revisions: bool,
) -> str:
    """The signed copy just written to ``out``: its audit record, then its read-back; the
    copy's SHA-256. The copy keeps its name only once both are done. Without its record it is
    deleted (AUDIT_UNAVAILABLE: no signature without its record). Not read back (READBACK_
    FAILED, the original no longer readable for its hash, Ctrl-C) it is renamed
    ``<name>.unverified`` and named: in the error, or on stderr. The original is untouched."""
    try:
        signed_digest["sha256"] = await _original_digest(hashing, file)
    except BaseException as exc:
        # The copy exists: recorded as signed (it is), then out of the way (never read back).
        if not audit.record(file, "OK", signed_digest):
            unrecorded = audit.unrecorded(out)  # deleted
            if isinstance(exc, KysoError):
                raise unrecorded from exc
            raise  # Ctrl-C stays an interruption
        aside = set_aside_saying(out)
        if isinstance(exc, KysoError):
            left = {"output": str(out), "set_aside": None if aside is None else str(aside)}
            raise KysoError(exc.code, {**exc.details, **left}) from exc
        raise
    if not audit.record(file, "OK", signed_digest):
        raise audit.unrecorded(out)
    try:
        return await _read_back(
            out, (size, signed_digest["sha256"]), later_revisions=later_revisions
        )
    except KysoError:
        raise  # READBACK_FAILED: the copy already set aside, and named in the error
    except BaseException:  # interrupted (a second Ctrl-C) before the check ended
        set_aside_saying(out)
        raise


async def _original_digest(hashing: Awaitable[str], path: Path) -> str:
    try:
        return await hashing
    except OSError as exc:
        raise KysoError("INPUT_INVALID", {"detail": f"cannot read {path}: {exc}"}) from exc


async def _sign_with_token(
    args: argparse.Namespace,
    source: Any,
    out: Path,
    options: Any,
    facts: Any,
    audit: SignatureAudit,
) -> tuple[Any, Any]:
    """The certificate chosen and checked, the PIN, the signature written to ``out``:
    (the certificate, the signing result)."""
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
            result = await write_signed_pdf(
                source, out, TokenSigner(key), options, facts, force=args.force, like=args.file
            )
    return cert, result


def facts_visible(facts: Any, options: Any) -> bool:
    """Whether this signature is drawn: a placement, or an existing (visible) empty field."""
    return options.placement is not None or options.field_name in facts.empty_fields


async def write_signed_pdf(
    source: Any,
    out: Path,
    signer: Any,
    options: Any,
    facts: Any,
    *,
    force: bool,
    like: Path | None = None,
) -> Any:
    """Sign the open PDF ``source`` into ``out`` atomically (never over an existing file
    unless ``force``); the pyHanko result. The original is never touched here. ``like``: the
    original's path, whose permissions the signed file gets (limited by the umask)."""
    from agent.signing.pdf.sign import sign_pdf_stream

    try:
        with atomic_output(out, overwrite=force, like=like) as output:
            return await sign_pdf_stream(source, output, signer, options, facts=facts)
    except FileExistsError as exc:
        raise KysoError("OUTPUT_EXISTS", {"path": str(out)}) from exc
    except OSError as exc:
        raise KysoError(
            "WRITE_FAILED", {"path": str(out), "detail": exc.strerror or str(exc)}
        ) from exc


async def sign_pdf_file(
    source: Path,
    out: Path,
    signer: Any,
    *,
    remove_unsigned: bool = False,
    consented: str | None = None,
    written: Callable[[dict[str, Any]], None] | None = None,
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
        raise KysoError(
            "WRITE_FAILED", {"path": str(out), "detail": exc.strerror or str(exc)}
        ) from exc


async def _sign_pdf_file(
    source: Path,
    out: Path,
    signer: Any,
    remove_unsigned: bool,
    consented: str | None,
    written: Callable[[dict[str, Any]], None] | None,
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
            raise KysoError("INPUT_INVALID", {"detail": changed_after_consent(source)})
        choose_field(facts, options)
        await write_signed_pdf(stream, out, signer, options, facts, force=False, like=source)
    entry = {
        "file": str(source),
        "output": str(out),
        "ok": True,
        "removed_unsigned": False,
        "sha256": facts.sha256,
    }
    if written is not None:
        written(entry)  # recorded before anything else: an unrecorded copy is deleted there
    # READBACK_FAILED unless every signature in it is intact and the original is its prefix
    # (so the signed bytes are the ones hashed, and consented to)
    await _read_back(out, (facts.size, facts.sha256))
    read = ReadFile.of(opened, facts.sha256, link=link)
    entry["removed_unsigned"] = remove_original(source, read) if remove_unsigned else False
    return entry


async def _read_back(
    path: Path, original: tuple[int, str] | None = None, *, later_revisions: bool = False
) -> str:
    """Read the signed file back from disk: every signature in it must be intact (each covers
    its bytes, the new one the whole file) and ``original`` ((size, SHA-256) of the file that
    was signed) its unchanged prefix. Returns the file's SHA-256. Otherwise READBACK_FAILED,
    the file set aside first as ``<name>.unverified`` (its ``path``): a copy that failed its
    check never stays under the name of a signed file."""
    from agent.signing.pdf.readback import check_signed_pdf

    try:
        with path.open("rb") as on_disk:  # closed before it is renamed (Windows)
            return check_signed_pdf(
                on_disk, path=str(path), original=original, later_revisions=later_revisions
            ).sha256
    except KysoError as exc:
        raise unverified(path, str(exc.details.get("detail", exc))) from exc
    except OSError as exc:
        raise unverified(path, str(exc)) from exc


def vietnam_time(iso: str) -> str:
    """An ISO 8601 instant as people in Vietnam read it, labelled."""
    import datetime as dt

    from agent.signing.pdf.sign import VIETNAM

    local = dt.datetime.fromisoformat(iso).astimezone(VIETNAM)
    return f"{local:%d/%m/%Y %H:%M:%S} (giờ Việt Nam, UTC+7)"


async def run_verify_pdf(args: argparse.Namespace) -> int:
    """Verify every signature; exit 2 when any is not valid."""
    from agent.signing.pdf.verify import verify_pdf
    from agent.signing.trust import TrustStore

    if not args.trust:
        raise KysoError(
            "INPUT_INVALID", {"detail": "give the trusted CA certificates with --trust"}
        )
    trust = TrustStore.from_files(
        args.trust, args.crl, revocation_mode="soft-fail" if args.no_revocation else "hard-fail"
    )
    reports = await verify_pdf(_read(args.file), trust)
    ok = all(r.valid for r in reports)
    if args.json:
        print_json({"ok": ok, "signatures": [r.to_json() for r in reports]})
        return 0 if ok else 2
    for number, r in enumerate(reports, 1):
        verdict = "HỢP LỆ / VALID" if r.valid else "KHÔNG HỢP LỆ / NOT VALID"
        print(f"{number}. {r.field_name}: {verdict} — {r.level}")
        print(f"   Người ký / signer: {r.signer}" + (f" — MST {r.mst}" if r.mst else ""))
        if r.signing_time:
            source = " — dấu thời gian / timestamp" if r.timestamped else ""
            print(f"   Thời điểm ký / signed at: {vietnam_time(r.signing_time)}{source}")
        scope = (
            "toàn bộ tệp / the whole file"
            if r.covers_whole_file
            else ("một phiên bản trước / an earlier revision")
        )
        print(f"   Phạm vi / covers: {scope}")
        if r.problem:
            print(f"   Vấn đề / problem: {r.problem}")
    return 0 if ok else 2
