"""``kyso-agent sign-cms`` and ``verify-cms``: CMS/PKCS#7 signatures of files, offline."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from asn1crypto import pem

from agent.audit import digest_fields
from agent.cli.common import (
    SignatureAudit,
    add_module_argument,
    add_signing_arguments,
    pin_provider,
    tsa_url,
)
from agent.cli.compose import build_token_service
from agent.cli.inputs import check_written, placed_last, read_bounded, written_copy
from agent.cli.judged_time import judged_lines, print_judged_refusal
from agent.cli.output import one_line, print_json
from agent.cli.targets import check_output_name, check_targets, same_file
from agent.cli.tokens_cmd import add_allow_invalid_argument, choose_signing_certificate
from agent.errors import KysoError, invalid_input
from agent.files import StagedFile, read_regular, stage_write
from agent.signing.cms import CmsVerification, sign_cms, verify_cms
from agent.signing.signer import TokenSigner
from agent.signing.trust import TrustStore
from agent.tokens.algorithms import SignatureAlgorithm

_HASH_BY_LENGTH = {32: "sha256", 48: "sha384", 64: "sha512"}

SIGN_EPILOG = """\
examples:
  kyso-agent sign-cms hoso.xml                      # writes hoso.xml.p7s (detached)
  kyso-agent sign-cms hoso.xml --attached -o hoso.p7m
  kyso-agent sign-cms --hash-only 9f86d08...e9a -o digest.p7s
  KYSO_PIN_FILE=pin.txt kyso-agent sign-cms a.pdf --cert 3fa1c2d4e5f60718 --json
  kyso-agent sign-cms hoso.xml --tsa http://tsa.example.vn/tsr   # CAdES-T (timestamped)
"""

VERIFY_EPILOG = """\
examples:
  kyso-agent verify-cms hoso.xml.p7s --data hoso.xml --trust ca-chain.pem --crl ca.crl
  kyso-agent verify-cms hoso.p7m --trust root.pem --trust issuing.pem --extract hoso.xml
exit status: 0 valid, 2 not valid (the reason is printed with its error code).
"""


def register(sub: Any) -> None:
    """Add sign-cms and verify-cms."""
    p = sub.add_parser(
        "sign-cms",
        help="sign a file (or a hash) as CMS/PKCS#7 with the USB token",
        description="Sign FILE as CMS/PKCS#7 SignedData (DER) with a certificate on the token. "
        "Signed attributes: content type, message digest, signing time, signing-certificate-v2.",
        epilog=SIGN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="the file to sign")
    p.add_argument(
        "--attached",
        action="store_true",
        help="embed the file in the signature (default: detached, FILE.p7s beside it)",
    )
    p.add_argument(
        "--hash-only",
        metavar="HEX",
        help="sign this precomputed SHA-256/384/512 digest instead of a file's content "
        "(detached only; with FILE, the digest must match it)",
    )
    p.add_argument(
        "--hash",
        dest="hash_name",
        choices=("sha256", "sha384", "sha512"),
        default=None,
        help="digest algorithm (default sha256, or from --hash-only)",
    )
    p.add_argument("--pss", action="store_true", help="RSA-PSS instead of PKCS#1 v1.5 (RSA keys)")
    p.add_argument(
        "--tsa",
        metavar="URL",
        type=tsa_url,
        help="RFC 3161 timestamp authority: a CAdES-T signature timestamp",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="where to write (default FILE.p7s)")
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite OUT if it existed before (never FILE itself)",
    )
    add_module_argument(p)
    add_signing_arguments(p)
    add_allow_invalid_argument(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_sign_cms)

    v = sub.add_parser(
        "verify-cms",
        help="verify a CMS/PKCS#7 signature and its signer certificate",
        description="Verify SIG (DER or PEM): the signature, the message digest, and the signer's "
        "certificate chain, validity at the signing time, revocation (CRLs given with --crl; "
        "nothing is downloaded) and key usage; and each signature timestamp (CAdES-T): the token's "
        "signature, that it stamps this signature, and the authority's certificate.",
        epilog=VERIFY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("signature", metavar="SIG", help="the .p7s / .p7m file")
    v.add_argument("--data", metavar="FILE", help="the signed file (for detached signatures)")
    v.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CA",
        help="trusted CA certificates, PEM or DER (repeatable; at least one root)",
    )
    v.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="CRL",
        help="CRLs of the CAs, PEM or DER (repeatable)",
    )
    v.add_argument(
        "--no-revocation",
        action="store_true",
        help="do not insist on revocation data (check only the CRLs given)",
    )
    v.add_argument(
        "--allow-sha1",
        action="store_true",
        help="accept SHA-1 (certificates of older CAs, legacy signatures)",
    )
    v.add_argument("--extract", metavar="OUT", help="write the embedded content (attached) to OUT")
    v.add_argument("--force", action="store_true", help="overwrite the --extract file if it exists")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=run_verify_cms)


def _read(path: str | Path, what: str) -> bytes:
    """A signature or data file to check, read whole: a regular file (a pipe is refused, never
    waited on) within the document limit; a signature may be larger by what an attached,
    PEM-armoured .p7m of a document at the limit adds (base64's third, certificates)."""
    from agent.config.policy import document_limit

    limit = document_limit()
    if what == "signature":
        limit = limit * 4 // 3 + 1024 * 1024
    try:
        return read_regular(path, max_bytes=limit)
    except KysoError as exc:
        if exc.code != "INPUT_INVALID":
            raise
        detail = str(exc.details.get("detail", ""))
        detail_vi = str(exc.details.get("detail_vi", detail))
        raise invalid_input(
            f"{what}: {detail}", f"{_WHAT_VI.get(what, what)}: {detail_vi}"
        ) from exc


_WHAT_VI = {"signature": "tệp chữ ký", "data file": "tệp dữ liệu"}


def _read_signed_file(path: Path) -> bytes:
    """The file to sign, read before the PIN: a pipe, a folder or a device is refused (it
    would hang the run), never waited on; past ``max_document_bytes`` (config.toml, the
    policy; the agent's limit too) DOCUMENT_TOO_LARGE, also when the file grows while it is
    read: the whole file is held in memory, so it is bounded, never an out-of-memory."""
    from agent.config.policy import document_limit

    return read_bounded(path, max_bytes=document_limit())


def _write(path: Path, data: bytes, force: bool, like: str | Path | None = None) -> StagedFile:
    """Write atomically; ``like``: the file whose permissions the output gets (umask too).
    The copy stays at its temporary name: it takes its name (or replaces an earlier file,
    ``force``) only in :func:`placed_last`, once the caller's steps (the audit record) are
    done."""
    try:
        return written_copy(stage_write(path, data, overwrite=force, like=like))
    except FileExistsError as exc:
        raise KysoError("OUTPUT_EXISTS", {"path": str(path)}) from exc
    except OSError as exc:
        raise KysoError(
            "WRITE_FAILED", {"path": str(path), "detail": exc.strerror or str(exc)}
        ) from exc


def _parse_hash(hex_digest: str, hash_name: str | None) -> tuple[bytes, str]:
    try:
        digest = bytes.fromhex(hex_digest.replace(":", "").strip())
    except ValueError as exc:
        raise invalid_input(
            "--hash-only is not hexadecimal", "giá trị --hash-only không phải số hệ 16"
        ) from exc
    implied = _HASH_BY_LENGTH.get(len(digest))
    if implied is None or (hash_name and hash_name != implied):
        wanted = hash_name or "SHA-256/384/512"
        raise invalid_input(
            f"a {len(digest)}-byte digest is not {wanted}",
            f"mã băm dài {len(digest)} byte không phải {wanted}",
        )
    return digest, implied


def _sign_inputs(args: argparse.Namespace) -> tuple[bytes | None, bytes | None, str, Path]:
    """(data, digest, hash name, output path) from the command line, checked before any PIN."""
    if args.file is None and args.hash_only is None:
        raise invalid_input(
            "give a FILE to sign or --hash-only HEX",
            "hãy nêu TỆP cần ký, hoặc --hash-only với mã băm hệ 16",
        )
    data = _read_signed_file(Path(args.file)) if args.file else None
    digest = None
    hash_name = args.hash_name or "sha256"
    if args.hash_only is not None:
        if args.attached:
            raise invalid_input(
                "--attached needs the file itself, not --hash-only",
                "--attached cần chính tệp cần ký, không dùng được với --hash-only",
            )
        digest, hash_name = _parse_hash(args.hash_only, args.hash_name)
        if data is not None and hashlib.new(hash_name, data).digest() != digest:
            raise invalid_input(
                f"--hash-only is not the {hash_name} of {args.file}",
                f"--hash-only không phải mã băm {hash_name} của {args.file}",
            )
        data = None
    if args.output:
        out = Path(args.output)
    elif args.file:
        out = Path(args.file + (".p7m" if args.attached else ".p7s"))
    else:
        raise invalid_input(
            "with --hash-only alone, name the output (-o)",
            "khi chỉ có --hash-only, hãy nêu tệp kết quả bằng -o",
        )
    # The signature never replaces the signed file, even with --force; a name too long for
    # the disk or a folder that is a file is refused now, before the PIN.
    if args.file:
        check_targets([(Path(args.file), out)])
    else:
        check_output_name("the given digest", out)
    if out.exists() and not args.force:
        raise KysoError("OUTPUT_EXISTS", {"path": str(out)})
    return data, digest, hash_name, out


def _refuse_if_changed(source: Path, signed: bytes) -> None:
    """INPUT_INVALID when ``source`` no longer holds the bytes just signed (saved again while
    the PIN was asked): a .p7s beside it would not verify, a .p7m would carry the old text."""
    if _read_signed_file(source) != signed:
        raise invalid_input(
            f"{source} changed while it was being signed; no signature was written: check "
            "the file and sign it again",
            f"tệp {source.name} đã thay đổi trong lúc ký nên chưa ghi chữ ký nào; hãy xem lại "
            "tệp rồi ký lại",
        )


async def run_sign_cms(args: argparse.Namespace) -> int:
    """Sign a file or a digest with one login, write the signature atomically."""
    data, digest, hash_name, out = _sign_inputs(args)
    pins = pin_provider(args.pin_file)
    audit = SignatureAudit("sign-cms", "cms")
    signed = digest_fields(data, digest, hash_name)
    with audit.covering([args.file], signed):  # refused or cancelled: recorded too
        audit.require()  # no signature without its record: refused before the token, the PIN
        async with build_token_service(args.module) as service:
            # Refused before the PIN unless --allow-invalid-certificate; unknown: a warning.
            cert = await choose_signing_certificate(service, args, audit)
            algorithm = None
            if args.pss:
                if cert.info.key_type != "RSA":
                    raise invalid_input(
                        "--pss needs an RSA certificate", "--pss chỉ dùng với chứng thư số RSA"
                    )
                algorithm = SignatureAlgorithm(f"RSA_PSS_{hash_name.upper()}")
            async with service.open_key(cert, pins) as key:
                signature = await sign_cms(
                    TokenSigner(key),
                    data=data,
                    digest=digest,
                    detached=not args.attached,
                    hash_name=hash_name,
                    algorithm=algorithm,
                    timestamp_url=args.tsa,
                )
        if args.file and data is not None:
            _refuse_if_changed(Path(args.file), data)
        copy = _write(out, signature, args.force, like=args.file)
        with placed_last(copy):  # --force: the earlier file replaced only once this is recorded
            if not audit.record(args.file, "OK", signed):
                raise audit.unrecorded(copy)  # deleted: no signature without its record
            if args.force:  # it may replace a file: only once read back (review 41)
                check_written(copy, signature)
    result = {
        "ok": True,
        "output": str(out),
        "detached": not args.attached,
        "hash": hash_name,
        "bytes": len(signature),
        "signer": cert.info.to_json(),
        "revocation": audit.revocation,
    }
    if args.json:
        print_json(result)
    else:
        kind = "tách rời / detached" if not args.attached else "đính kèm / attached"
        print(
            f"Đã ký / signed: {one_line(out)} (CMS {kind}, {hash_name.upper()})\n"
            f"  Người ký / signer: {one_line(cert.info.subject_display)}"
            + (f" — MST {one_line(cert.info.mst)}" if cert.info.mst else "")
        )
    return 0


def _load_signature(path: str) -> bytes:
    raw = _read(path, "signature")
    if pem.detect(raw):
        _, _, raw = pem.unarmor(raw)
    return raw


def verification_json(result: CmsVerification) -> dict[str, Any]:
    """The JSON form of a successful verification."""
    return {
        "ok": True,
        "signer": result.signer.to_json(),
        "signing_time": result.signing_time.isoformat() if result.signing_time else None,
        "detached": result.detached,
        "digest_algorithm": result.digest_algorithm,
        "signature_algorithm": result.signature_algorithm,
        "content_bytes": len(result.content) if result.content is not None else None,
        # Each one checked (token signature, imprint, authority); [] when there is none.
        "timestamps": [t.to_json() for t in result.timestamps],
        # When the signer's certificate was judged: the earliest timestamp, else now.
        "validated_at": result.validated_at.isoformat() if result.validated_at else None,
        "validated_at_source": result.validated_at_source,
    }


def run_verify_cms(args: argparse.Namespace) -> int:
    """Verify a CMS signature against the CAs and CRLs given."""
    if not args.trust:
        raise invalid_input(
            "give the trusted CA certificates with --trust",
            "hãy đưa chứng thư các CA tin cậy bằng --trust",
        )
    trust = TrustStore.from_files(
        args.trust,
        args.crl,
        revocation_mode="soft-fail" if args.no_revocation else "hard-fail",
        allow_sha1=args.allow_sha1,
    )
    if args.extract:  # the content never replaces the signature or the data file
        for given in (args.signature, args.data):
            if given and same_file(args.extract, given):
                raise invalid_input(
                    f"--extract {args.extract} would replace {given}",
                    f"--extract {args.extract} sẽ ghi đè lên {given}",
                )
    data = _read(args.data, "data file") if args.data else None
    try:
        result = verify_cms(_load_signature(args.signature), trust, data=data)
    except KysoError as exc:
        if args.json or "validated_at" not in exc.details:
            raise
        print_judged_refusal(exc)  # the error, then when the certificate was judged and why
        return 2
    if args.extract:
        if result.content is None:
            raise invalid_input(
                "a detached signature has no content",
                "chữ ký tách rời không chứa nội dung để trích ra",
            )
        extracted = _write(Path(args.extract), result.content, args.force, like=args.signature)
        with placed_last(extracted):
            if args.force:  # it may replace a file: only once read back (review 41)
                check_written(extracted, result.content)
    if args.json:
        print_json(verification_json(result))
        return 0
    s = result.signer
    when = result.signing_time.isoformat() if result.signing_time else None
    judged = result.validated_at.isoformat() if result.validated_at else None
    print(
        "Chữ ký hợp lệ / signature valid\n"
        f"  Người ký / signer: {one_line(s.subject_display)}\n"
        + (f"  MST: {one_line(s.mst)}\n" if s.mst else "")
        + (f"  CCCD: {one_line(s.cccd)}\n" if s.cccd else "")
        + judged_lines(when, judged, result.validated_at_source)
        + "\n"
        f"  Chứng thư / certificate: {s.thumbprint} (đến / until {s.not_after[:10]})\n"
        f"  Kiểu / form: {'detached' if result.detached else 'attached'}, "
        f"{result.digest_algorithm.upper()}, {result.signature_algorithm}"
    )
    for stamp in result.timestamps:
        print(
            f"  Dấu thời gian / timestamp: {stamp.gen_time.isoformat()} "
            f"— {one_line(stamp.authority.subject_display)} (đã kiểm tra / checked)"
        )
    return 0
