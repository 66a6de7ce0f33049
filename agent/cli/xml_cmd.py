"""``kyso-agent sign-xml`` and ``verify-xml``: the offline dossier signer (iBHXH-Signing step).

Nothing is ever lost: signed files are written atomically and never over an existing file
without --force; --remove-unsigned deletes an original only after its signed file was written,
read back and its signature checked against the signer's own certificate (the chain is the
portal's concern; the read-back proves the bytes on disk are the ones we signed). Any failure
leaves the original untouched; a signed copy that fails its read-back is renamed
``NAME.unverified``, one whose audit record fails is deleted and the batch stops there. One
token login serves the whole batch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.cli.common import (
    SignatureAudit,
    add_module_argument,
    add_signing_arguments,
    pin_provider,
)
from agent.cli.inputs import (
    ReadFile,
    changed_after_consent,
    check_input,
    link_identity,
    open_input,
    read_checked,
    remove_original,
    unverified,
)
from agent.cli.output import print_json
from agent.cli.targets import check_targets, same_file
from agent.cli.tokens_cmd import add_allow_invalid_argument, choose_signing_certificate
from agent.errors import ErrorGroup, KysoError
from agent.files import atomic_write
from agent.signing.signer import Signer, TokenSigner
from agent.signing.xml import (
    check_signable,
    check_xml_signature,
    sign_xml,
    sign_xml_file,
    verify_xml,
)
from agent.signing.xml.profiles import C14N_METHODS, HASHES, PROFILES, XmlProfile, get_profile
from agent.signing.xml.safe import DEFAULT_MAX_BYTES, parse_untrusted_file

SIGN_HELP = """\
Ký số tệp hồ sơ XML bằng USB token / sign XML dossier files with your USB token.

Examples:
  kyso-agent sign-xml hoso.xml                      writes hoso_signed.xml beside it
  kyso-agent sign-xml *.xml --out-dir signed/ --remove-unsigned
  kyso-agent sign-xml tokhai.xml --profile tax --cert 3f9a...   (see 'kyso-agent certs')

The PIN is asked on the terminal (not shown) unless --pin-file or $KYSO_PIN_FILE is given.
Existing files are never overwritten without --force; two files that would be signed to the
same output (the same name from two folders into one --out-dir), or an output that is another
of the files, stop the whole run before the PIN. Each file is checked before the PIN too (a
pipe, a folder, a malformed dossier, no container...): it is reported and never signed.
--remove-unsigned deletes each original only after its signed copy was written, read back and
checked, and only if it is still the file that was signed (a version saved meanwhile is kept).
A signed file gets the original's permissions (limited by the umask). Ctrl-C, SIGTERM or a
closed terminal stop the run with every file recorded and the report (--json too) printed.
"""


def register(sub: Any) -> None:
    """Add sign-xml and verify-xml."""
    _register_sign(sub)
    _register_verify(sub)


def _register_sign(sub: Any) -> None:
    p = sub.add_parser(
        "sign-xml",
        help="sign XML dossier files (BHXH, tax, generic)",
        description=SIGN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", type=Path)
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="bhxh",
        help="where the signature goes (default: bhxh)",
    )
    add_signing_arguments(p)  # --cert, --token, --pin-file
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "-o", "--output", type=Path, metavar="OUT", help="output file (one input only)"
    )
    out.add_argument("--out-dir", type=Path, metavar="DIR", help="write signed files into DIR")
    p.add_argument("--suffix", default="_signed", help="added to the file name (default: _signed)")
    p.add_argument(
        "--remove-unsigned",
        action="store_true",
        help="delete each original after its signed file was written and verified",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite output files that existed before this run (never one of its inputs)",
    )
    p.add_argument(
        "--hash",
        choices=HASHES,
        default="sha256",
        help="digest (default sha256; sha1: legacy RSA files, --allow-sha1 for bhxh/tax)",
    )
    p.add_argument("--c14n", choices=sorted(C14N_METHODS), help="canonicalization (default c14n)")
    p.add_argument(
        "--allow-ecdsa",
        action="store_true",
        help="sign with an EC key for bhxh/tax anyway (.NET portals cannot verify ECDSA)",
    )
    p.add_argument(
        "--allow-sha1",
        action="store_true",
        help="allow --hash sha1 for bhxh/tax (Java 17+ portals refuse SHA-1)",
    )
    add_allow_invalid_argument(p)
    p.add_argument("--reference", metavar="#ID", help="generic: sign the element with this Id")
    p.add_argument(
        "--container", metavar="NAME", help="generic: root child that holds the signature"
    )
    add_module_argument(p)
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=run_sign)


def _register_verify(sub: Any) -> None:
    v = sub.add_parser(
        "verify-xml",
        help="verify a signed XML dossier",
        description="Kiểm tra chữ ký số của tệp XML / verify a signed XML file.",
    )
    v.add_argument("file", metavar="FILE", type=Path)
    v.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CA.pem",
        help="trusted root / intermediate CA certificates (repeatable)",
    )
    v.add_argument(
        "--crl", action="append", default=[], metavar="CRL", help="CRL files (repeatable)"
    )
    v.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help="expected profile (default: from the root element)",
    )
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=run_verify)


def output_path(source: Path, args: argparse.Namespace) -> Path:
    """Where the signed copy of ``source`` goes."""
    if args.output is not None:
        return args.output
    name = f"{source.stem}{args.suffix}{source.suffix}"
    return (args.out_dir / name) if args.out_dir is not None else source.with_name(name)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The profile options the command line asked for."""
    options: dict[str, Any] = {
        "hash": args.hash,
        "c14n": args.c14n,
        "allow_ecdsa": getattr(args, "allow_ecdsa", False),
        "allow_sha1": getattr(args, "allow_sha1", False),
    }
    if args.reference is not None or args.container is not None:
        options.update(reference=args.reference, container=args.container)
    return options


async def sign_one(
    source: Path,
    target: Path,
    signer: Signer,
    args: argparse.Namespace,
    written: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Sign one file; never touches ``source`` unless --remove-unsigned and all went well.
    ``written`` is told the result as soon as the signed copy is on disk (its audit record,
    before the read-back: an interruption then cannot leave a signed copy unrecorded); when it
    raises (AUDIT_UNAVAILABLE: the record failed, the copy deleted) nothing more is done. A
    read-back that fails sets the copy aside as ``<name>.unverified`` (READBACK_FAILED names
    it). An unexpected system error (a name too long for the disk...) is WRITE_FAILED."""
    try:
        return await _sign_one(source, target, signer, args, written)
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise KysoError("WRITE_FAILED", {"path": str(target), "detail": detail}) from exc


async def _sign_one(
    source: Path,
    target: Path,
    signer: Signer,
    args: argparse.Namespace,
    written: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    if target.exists() and not args.force:
        raise KysoError("OUTPUT_EXISTS", {"path": str(target)})
    if args.remove_unsigned and same_file(target, source):
        raise KysoError(
            "INPUT_INVALID", {"detail": "--remove-unsigned with the output on the input"}
        )
    signed, read = await _sign_document(source, signer, args)
    try:
        atomic_write(target, signed, overwrite=args.force, like=source)
    except FileExistsError as exc:
        raise KysoError("OUTPUT_EXISTS", {"path": str(target)}) from exc
    except OSError as exc:
        detail = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise KysoError("WRITE_FAILED", {"path": str(target), "detail": detail}) from exc
    entry = {
        "file": str(source),
        "output": str(target),
        "ok": True,
        "removed_unsigned": False,
        "sha256": read.sha256,  # for the audit record
    }
    if written is not None:
        written(entry)
    if args.remove_unsigned:
        try:
            back = target.read_bytes()
            result = check_xml_signature(back, profile=args.profile)
            if back != signed or result.signer.der != signer.certificate.der:
                raise KysoError("SIGNATURE_INVALID", {"detail": "read-back differs"})
        except (OSError, KysoError) as exc:
            raise unverified(target, str(exc)) from exc
        # Only the file that was read and signed: one saved over it meanwhile is kept.
        entry["removed_unsigned"] = remove_original(source, read)
    return entry


async def _sign_document(
    source: Path, signer: Signer, args: argparse.Namespace
) -> tuple[bytes, ReadFile]:
    """(signed bytes, what was read). With ``args.consented_sha256`` (the desktop signer: the
    SHA-256 its consent showed) the bytes are read once, compared and those very bytes signed:
    a file changed after the consent is refused before the token signs. Otherwise the file is
    parsed in chunks (a 50 MB dossier's bytes are never beside its tree) and its identity is
    compared around the read."""
    consented = getattr(args, "consented_sha256", None)
    if consented:
        document, read = read_checked(source)
        if read.sha256 != consented:
            raise KysoError("INPUT_INVALID", {"detail": changed_after_consent(source)})
        return await sign_xml(document, signer, args.profile, **_options(args)), read
    link = link_identity(source)  # a symlink input: the link itself, before the open
    with open_input(source) as handle:  # a pipe or a device put there since: refused now
        before = os.fstat(handle.fileno())
    document, signed = await sign_xml_file(source, signer, args.profile, **_options(args))
    changed = KysoError("INPUT_INVALID", {"detail": f"{source} changed while it was being signed"})
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
        raise KysoError(
            "INPUT_INVALID", {"detail": "-o works with one file; use --out-dir for several"}
        )
    # Every output planned before anything is signed: two files to one output, or an output
    # over another input, refuse the whole run (--force only replaces files from before it).
    check_targets(
        [(source, output_path(source, args)) for source in args.files],
        own_input=not args.remove_unsigned,
    )
    # Bad options, SHA-1 and an EC key the profile's portals cannot verify: all refused
    # before the PIN is asked.
    profile = get_profile(args.profile, **_options(args))
    profile.check_algorithms(ecdsa=False)
    # Each file checked before the PIN (a pipe, a folder, malformed, no container...): one
    # that would fail anyway is reported now and never reaches the token.
    todo, results = precheck_files(args.files, profile)
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
            done = _in_order(results, args.files, KysoError("USER_CANCELLED"))
            _report(done, args, interrupted=True)
            sys.stdout.flush()
        raise
    return _report(_in_order(results, args.files), args)


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


def precheck_files(
    files: list[Path], profile: XmlProfile
) -> tuple[list[Path], list[dict[str, Any]]]:
    """(the files worth the PIN, the result entries of the others). Each file must be a
    regular file (a FIFO would hang the run, /dev/zero fill the memory), within the size limit,
    well-formed, safe, and hold what ``profile`` signs (its container, not already signed...):
    everything signing would refuse later, said before the PIN. One stream parse per file."""
    todo: list[Path] = []
    refused: list[dict[str, Any]] = []
    for source in files:
        try:
            size = check_input(source)
            if size > DEFAULT_MAX_BYTES:
                raise KysoError("XML_TOO_LARGE", {"size": size, "limit": DEFAULT_MAX_BYTES})
            check_signable(parse_untrusted_file(source), profile)
        except KysoError as exc:
            refused.append({"file": str(source), "ok": False, "error": exc.to_dict()})
            sys.stderr.write(
                f"Không ký / not signed: {source}: [{exc.code}] {exc.message_vi} / "
                f"{exc.message_en}\n"
            )
            continue
        todo.append(source)
    return todo, refused


def _in_order(
    results: list[dict[str, Any]], files: list[Path], missing: KysoError | None = None
) -> list[dict[str, Any]]:
    """``results`` in the order the files were given; a file without an outcome (the run was
    interrupted) gets ``missing``'s."""
    by_file: dict[str, dict[str, Any]] = {}
    for entry in results:
        by_file.setdefault(entry["file"], entry)
    ordered = []
    for source in files:
        found = by_file.get(str(source))
        if found is None and missing is not None:
            found = {"file": str(source), "ok": False, "error": missing.to_dict()}
        if found is not None:
            ordered.append(found)
    return ordered


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
    bar = tqdm(
        files, unit="file", file=sys.stderr, disable=args.json or len(files) < 2, desc="sign-xml"
    )
    for index, source in enumerate(bar):
        if audit is not None and audit.failed:
            # A record of this run failed: the next signature would have none either.
            results += refuse_unrecorded(files[index:], audit)
            break
        done: dict[str, Any] = {}  # this file's entry once its signed copy is on disk
        written = _recorder(audit, done)
        try:
            results.append(await sign_one(source, output_path(source, args), signer, args, written))
        except KysoError as exc:
            results.append({"file": str(source), "ok": False, "error": exc.to_dict()})
            if exc.is_(
                ErrorGroup.TOKEN_GONE, ErrorGroup.TOKEN_FAULT, ErrorGroup.PIN, ErrorGroup.CANCELLED
            ):
                # The key session is gone: the rest cannot be signed either.
                for rest in files[index + 1 :]:
                    results.append({"file": str(rest), "ok": False, "error": exc.to_dict()})
                break
        except BaseException:
            if done:  # interrupted after the write: that file is signed (and recorded)
                results.append(dict(done))
            raise
        finally:
            if audit is not None:
                for entry in results[recorded:]:
                    if not (done and entry["file"] == done["file"]):  # recorded at the write
                        audit.result(entry)
            recorded = len(results)
    bar.close()
    return results


def _recorder(
    audit: SignatureAudit | None, done: dict[str, Any]
) -> Callable[[dict[str, Any]], None]:
    """:func:`sign_one`'s ``written``: the entry kept in ``done`` and recorded; a copy whose
    record cannot be stored is deleted there (AUDIT_UNAVAILABLE: no signature without it)."""

    def written(entry: dict[str, Any]) -> None:
        done.update(entry)
        if audit is not None and not audit.result(entry):
            raise audit.unrecorded(entry["output"])

    return written


def refuse_unrecorded(files: list[Path], audit: SignatureAudit) -> list[dict[str, Any]]:
    """AUDIT_UNAVAILABLE entries for ``files``, not tried since a record failed (each is
    recorded all the same: the log may take them later, with the records still waiting)."""
    refusal = audit.refusal().to_dict()
    entries = [{"file": str(source), "ok": False, "error": refusal} for source in files]
    for entry in entries:
        audit.result(entry)
    return entries


def _report(
    results: list[dict[str, Any]], args: argparse.Namespace, *, interrupted: bool = False
) -> int:
    failed = [r for r in results if not r["ok"]]
    if args.json:
        report: dict[str, Any] = {
            "ok": not failed,
            "signed": len(results) - len(failed),
            "failed": len(failed),
            "results": results,
        }
        if interrupted:
            report["interrupted"] = True
        print_json(report)
    else:
        for r in results:
            if r["ok"]:
                extra = (
                    " (bản chưa ký đã xóa / unsigned original removed)"
                    if r["removed_unsigned"]
                    else ""
                )
                print(f"ĐÃ KÝ / signed: {r['file']} → {r['output']}{extra}")
            else:
                e = r["error"]
                print(
                    f"LỖI / failed: {r['file']}: [{e['code']}] {e['message_vi']} / {e['message_en']}\n"
                    f"    → {e['action_vi']}"
                )
        print(
            f"Tổng / total: {len(results) - len(failed)} đã ký / signed, {len(failed)} lỗi / failed."
        )
    return 1 if failed else 0


def run_verify(args: argparse.Namespace) -> int:
    """Verify one file; exit 0 when valid and trusted, 1 otherwise."""
    from agent.signing.trust import TrustStore

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise KysoError(
            "INPUT_INVALID", {"detail": f"cannot read {args.file}: {exc.strerror}"}
        ) from exc
    if not args.trust:
        raise KysoError(
            "INPUT_INVALID", {"detail": "give the trusted CA certificates with --trust"}
        )
    trust = TrustStore.from_files(args.trust, args.crl)
    try:
        result = verify_xml(data, trust, profile=args.profile)
    except KysoError as exc:
        if args.json:
            print_json({"ok": False, "file": str(args.file), "error": exc.to_dict()})
        else:
            d = exc.to_dict()
            lines = [
                f"KHÔNG HỢP LỆ / INVALID [{d['code']}]: {d['message_vi']}",
                f"  {d['message_en']}",
                f"  → {d['action_vi']}",
                f"  → {d['action_en']}",
            ]
            if exc.details.get("signer"):
                lines.append(f"  Người ký / signer: {exc.details['signer']}")
            if exc.code == "SIGNATURE_INVALID" and exc.details.get("detail"):
                lines.append(f"  Chi tiết / detail: {exc.details['detail']}")
            print("\n".join(lines))
        return 1
    if args.json:
        print_json({"file": str(args.file), **result.to_json()})
    else:
        s = result.signer
        ident = f"MST:{s.mst}" if s.mst else f"CCCD:{s.cccd}" if s.cccd else ""
        when = result.signing_time.isoformat() if result.signing_time else "không ghi / not stated"
        print(
            f"HỢP LỆ / VALID: {args.file}\n  Người ký / signer: {s.subject_display} {ident}\n"
            f"  Thời điểm ký / signing time: {when}\n"
            f"  Kiểu chữ ký / signature shape: {result.shape.vi} / {result.shape.en}"
        )
    return 0
