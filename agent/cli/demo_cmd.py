"""``kyso-agent demo-token``: demo SoftHSM2 tokens and the test PKI."""

from __future__ import annotations

import argparse
from typing import Any

from agent.cli.output import print_json, table


def register(sub: Any) -> None:
    """Add the demo-token command."""
    p = sub.add_parser(
        "demo-token",
        help="create, reset or describe the demo tokens",
        description="Demo tokens are SoftHSM2 tokens under the Kyso state root "
        "($KYSO_HOME or the user data directory), with keys made on the token and "
        "certificates from a test CA. They stand in for real USB tokens in the demo and tests.",
    )
    p.add_argument(
        "action",
        choices=["init", "reset", "info"],
        help="init: create if missing; reset: recreate; info: describe",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts and tests")
    p.set_defaults(func=run)

    # `demo` (tokens + agent + portal over HTTPS) lives in agent/cli/demo_run.py.
    from agent.cli import demo_run

    demo_run.register(sub)


async def run(args: argparse.Namespace) -> int:
    """Do the requested action and describe the demo."""
    from agent.demo import tokens as demo  # the test PKI: only when a demo command runs

    manifest: dict[str, Any] | None
    if args.action == "init":
        manifest = await demo.init()
    elif args.action == "reset":
        manifest = await demo.reset()
    else:
        manifest = demo.load_manifest()
        if manifest is None:
            from agent.errors import invalid_input

            raise invalid_input(
                "there are no demo tokens yet: run 'kyso-agent demo-token init'",
                "chưa có token thử nghiệm: chạy 'kyso-agent demo-token init'",
            )
    if args.json:
        print_json(manifest)
        return 0
    print(f"Module:          {manifest['module']}")
    print(f"SoftHSM2 config: {manifest['softhsm2_conf']}")
    for token in manifest["tokens"]:
        print(f"Token:           {token['label']}  (PIN {token['user_pin']})")
    print(f"Root CA:         {manifest['ca']['root']}")
    print(f"Issuing CA:      {manifest['ca']['issuing']}")
    print(f"CRL:             {manifest['ca']['crl']}")
    rows = [
        [
            name,
            c["token"],
            c["mst"] or c["cccd"] or "",
            c["key_type"],
            c["thumbprint"][:16],
            c["description"],
        ]
        for name, c in manifest["certificates"].items()
    ]
    print()
    print(table(rows, ["name", "token", "MST/CCCD", "key", "thumbprint", "what it is"]))
    return 0
