"""Entry point of ``kyso-agent``: one sub-command per module listed in COMMAND_MODULES."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence

from agent import __version__
from agent.cli.output import print_error
from agent.errors import KysoError

# Each module has register(subparsers); adding a command is adding a line here.
COMMAND_MODULES = (
    "agent.cli.run_cmd",
    "agent.cli.demo_cmd",
    "agent.cli.tokens_cmd",
    "agent.cli.xml_cmd",
    "agent.cli.cms_cmd",
    "agent.cli.trust_cmd",
)

DESCRIPTION = """\
Kyso — ký số bằng USB token từ trình duyệt / sign with your USB token from the browser.

Common tasks:
  kyso-agent demo-token init      create demo SoftHSM2 tokens and a test CA
  kyso-agent tokens               list plugged-in tokens
  kyso-agent certs                list certificates (use --json for scripts)
  kyso-agent trust install        let browsers trust Kyso's local https certificate
  kyso-agent run                  start the signing agent (wss://127.0.0.1:27443/v1/ws)
  kyso-agent doctor               find out why a token or certificate is not usable
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="kyso-agent",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kyso-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        result = func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except KysoError as exc:
        print_error(exc, as_json=getattr(args, "json", False))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("Đã dừng / interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
