"""``kyso-agent trust install | remove | status [--machine] [--json]``: the local CA in browsers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agent.cli.output import print_json, table
from agent.localtls.truststore import STATE_TEXT, TrustReport, TrustState, run_trust

HELP = """\
Browsers only talk to Kyso over https://127.0.0.1 when they trust Kyso's local CA. That CA is
made on this computer at first start; its private key is deleted right after it signs Kyso's
one loopback certificate, so it cannot be used for anything else.

  kyso-agent trust install     trust the CA in Chromium/Chrome and every Firefox profile
                               (Windows: CurrentUser Root store; macOS: login keychain)
  kyso-agent trust status      per store: trusted / not trusted / old CA
  kyso-agent trust remove      take every Kyso CA out again
  --machine                    the machine-wide store instead (needs sudo / administrator)

Kyso never closes or restarts a browser: it tells you when one must be restarted.
Exit status of 'status': 0 every store trusts the current CA, 1 some do not, 2 error.
"""


def register(sub: Any) -> None:
    """Add ``trust`` with its three actions."""
    parser = sub.add_parser(
        "trust",
        help="trust Kyso's local CA in browsers (install / remove / status)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("install", "remove", "status"))
    parser.add_argument(
        "--machine",
        action="store_true",
        help="use the machine-wide store (Linux system store, LocalMachine, System keychain)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the action and print the per-store result."""
    report = run_trust(args.action, directory=args.dir, machine=args.machine)
    if args.json:
        print_json(report.to_json())
    else:
        print(render(report))
    if not report.ok:
        return 2
    if args.action == "status":
        trusted = report.stores and all(s.state is TrustState.TRUSTED for s in report.stores)
        return 0 if trusted else 1
    return 0


def render(report: TrustReport) -> str:
    """The human form: the CA, one row per store, then the notes."""
    lines = []
    if report.ca_common_name:
        lines.append(f"CA cục bộ / local CA: {report.ca_common_name}")
        lines.append(f"  SHA-256 {report.ca_sha256}")
    if report.stores:
        rows = []
        for s in report.stores:
            state = STATE_TEXT[s.state] + (" (đã cập nhật / updated)" if s.changed else "")
            rows.append([s.label, _short(s.location), state])
            if s.detail and s.state is TrustState.ERROR:
                rows.append(["", "", "  " + s.detail.splitlines()[0]])
        lines.append("")
        lines.append(table(rows, ["kho / store", "vị trí / location", "trạng thái / state"]))
    for note in report.notes:
        lines.append("")
        lines.append("• " + note)
    return "\n".join(lines)


def _short(location: str) -> str:
    home = str(Path.home())
    return "~" + location[len(home) :] if location.startswith(home + "/") else location
