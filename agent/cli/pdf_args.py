"""The command lines of ``kyso-agent sign-pdf`` and ``verify-pdf``: their arguments and help,
and what sign-pdf's options mean (placement, seals, B-LT roots, the output path), each checked
before any PIN is asked. The runs are :mod:`agent.cli.pdf_cmd`'s and
:mod:`agent.cli.pdf_verify`'s."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.cli.common import add_module_argument, add_signing_arguments, tsa_url
from agent.cli.document_commands import read_whole, signed_copy_path
from agent.cli.targets import check_targets
from agent.cli.tokens_cmd import add_allow_invalid_argument
from agent.errors import KysoError, invalid_input
from agent.files import TRUST_FILE_MAX_BYTES

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

Boxes are in points (1/72 inch) in the page's own coordinates: from its bottom-left corner as
stored (an A4 page is 595 × 842), also on a page a viewer shows turned (/Rotate); the stamp
itself is drawn upright for the reader. --anchor places it as the page is shown.
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

# verify-pdf's deadline: a 200-page contract with ten B-LT signatures takes seconds even on a
# slow office PC; a script waiting for the verdict must not be stalled for hours.
VERIFY_DEADLINE_SECONDS = 120.0

VERIFY_HELP = """\
Kiểm tra chữ ký số trong tệp PDF / verify the signatures in a PDF.

Example:
  kyso-agent verify-pdf hopdong_signed.pdf --trust ca-chain.pem --crl ca.crl

Each signature is listed with its signer, time, PAdES level (B-B, B-T, B-LT) and whether it
covers the whole file. Exit status: 0 all valid, 2 one or more not valid (or the check
could not finish: PDF_VERIFY_TIMEOUT after --timeout seconds, or an unreadable file).
"""


def add_sign_parser(sub: Any) -> argparse.ArgumentParser:
    """sign-pdf's parser (its run is set by the caller)."""
    p: argparse.ArgumentParser = sub.add_parser(
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
    p.add_argument(
        "--box",
        metavar="X1,Y1,X2,Y2",
        help="the stamp's box in points, bottom-left corner first (with --page); "
        "a box starting with a minus sign is written --box=-10,…",
    )
    p.add_argument("--field", metavar="NAME", help="sign this existing empty signature field")
    p.add_argument("--seal", type=Path, metavar="PNG", help="the unit's seal image (PNG)")
    p.add_argument("--font", type=Path, metavar="TTF", help="font for the stamp (Vietnamese)")
    p.add_argument("--reason", help="reason shown in PDF readers (e.g. 'Giám đốc duyệt')")
    p.add_argument("--location", help="location shown in PDF readers")
    p.add_argument(
        "--tsa", metavar="URL", type=tsa_url, help="RFC 3161 timestamp authority: PAdES-B-T"
    )
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
    return p


def add_verify_parser(sub: Any) -> argparse.ArgumentParser:
    """verify-pdf's parser (its run is set by the caller)."""
    v: argparse.ArgumentParser = sub.add_parser(
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
    v.add_argument(
        "--timeout",
        type=_seconds,
        default=VERIFY_DEADLINE_SECONDS,
        metavar="SECONDS",
        help="give up (PDF_VERIFY_TIMEOUT, exit 2) when checking takes longer than this "
        f"(default {VERIFY_DEADLINE_SECONDS:.0f}): a hostile file can keep a verifier busy for hours",
    )
    v.add_argument("--json", action="store_true", help="print JSON")
    return v


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86400:  # NaN fails too
        raise argparse.ArgumentTypeError(f"not a number of seconds from 1 to 86400: {text!r}")
    return value


def sign_options(args: argparse.Namespace) -> Any:
    """The signing options from the command line, checked before any PIN is asked."""
    from agent.signing.pdf import PdfSignOptions, Placement
    from agent.signing.pdf.stampfont import check_font

    placement = None
    if (args.page is None) != (args.box is None):
        raise invalid_input("--page and --box go together", "--page và --box phải dùng cùng nhau")
    if args.anchor is not None and args.page is not None:
        raise invalid_input(
            "--anchor or --page/--box, not both",
            "chỉ dùng một cách đặt chữ ký: --anchor, hoặc --page cùng --box",
        )
    if args.long_term and not args.tsa:
        raise invalid_input(
            "--long-term needs a timestamp: --tsa URL",
            "--long-term cần dấu thời gian: thêm --tsa URL",
        )
    if args.page is not None:
        try:
            x1, y1, x2, y2 = (float(v) for v in args.box.split(","))
        except ValueError as exc:
            raise invalid_input(
                "--box is four numbers: X1,Y1,X2,Y2",
                "--box là bốn con số cách nhau bằng dấu phẩy: X1,Y1,X2,Y2",
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
        font_path=check_font(args.font) if args.font is not None else None,
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
        data = read_whole(Path(path), max_bytes=TRUST_FILE_MAX_BYTES)
        try:
            certs = (
                x509.load_pem_x509_certificates(data)
                if b"-----BEGIN" in data
                else [x509.load_der_x509_certificate(data)]
            )
        except ValueError as exc:
            raise invalid_input(
                f"{path}: not a certificate", f"{path} không phải một chứng thư số"
            ) from exc
        roots += [c.public_bytes(Encoding.DER) for c in certs]
    return tuple(roots)


def output_path(args: argparse.Namespace) -> Path:
    """Where the signed copy goes (refused now if it exists and --force is absent)."""
    source: Path = args.file
    out = args.output or signed_copy_path(source, args.suffix)
    # The output is never the original (symbolic or hard link included), even with --force.
    check_targets([(source, out)])
    if out.exists() and not args.force:
        raise KysoError("OUTPUT_EXISTS", {"path": str(out)})
    return out
