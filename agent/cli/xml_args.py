"""The command lines of ``kyso-agent sign-xml`` and ``verify-xml``: their arguments and help,
where each signed copy goes and the profile options asked for. The runs are
:mod:`agent.cli.xml_cmd`'s and :mod:`agent.cli.xml_verify`'s."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.cli.common import add_module_argument, add_signing_arguments
from agent.cli.document_commands import signed_copy_path
from agent.cli.tokens_cmd import add_allow_invalid_argument
from agent.signing.xml.profiles import C14N_METHODS, HASHES, PROFILES

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


def add_sign_parser(sub: Any) -> argparse.ArgumentParser:
    """sign-xml's parser (its run is set by the caller)."""
    p: argparse.ArgumentParser = sub.add_parser(
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
    return p


def add_verify_parser(sub: Any) -> argparse.ArgumentParser:
    """verify-xml's parser (its run is set by the caller)."""
    v: argparse.ArgumentParser = sub.add_parser(
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
    return v


def output_path(source: Path, args: argparse.Namespace) -> Path:
    """Where the signed copy of ``source`` goes."""
    if args.output is not None:
        return args.output
    return signed_copy_path(source, args.suffix, args.out_dir)


def profile_options(args: argparse.Namespace) -> dict[str, Any]:
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
