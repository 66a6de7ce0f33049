"""``kyso-portal``: run the stand-in e-BHXH portal.

Example (the demo PKI from ``kyso-agent demo-token init``)::

    kyso-portal --trust ~/.local/share/kyso/demo/pki/root-ca.pem \\
                --trust ~/.local/share/kyso/demo/pki/issuing-ca.pem \\
                --crl ~/.local/share/kyso/demo/pki/issuing-ca.crl.pem

Without ``--trust`` the demo PKI is used when it exists.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from agent.errors import KysoError
from portal_stub.config import PortalConfig


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:8625")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="kyso-portal",
        description="Cổng giao dịch BHXH điện tử (bản thử nghiệm Kyso): the stand-in e-BHXH "
        "portal that verifies what the Kyso agent signs.",
        epilog="Open the printed address in a browser; account e-mails appear at /hop-thu "
        "unless --smtp sends them to a real server.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8600, help="port (default 8600)")
    p.add_argument(
        "--db",
        default=None,
        help="SQLite file (default: portal.sqlite3 in the Kyso "
        "state directory; ':memory:' for a throw-away portal)",
    )
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CA.pem",
        help="trusted CA certificate(s) (repeatable); default: the demo PKI",
    )
    p.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="CRL",
        help="CRL file(s) to check revocation against (repeatable)",
    )
    p.add_argument(
        "--smtp",
        type=_host_port,
        default=None,
        metavar="HOST:PORT",
        help="send account mail to this SMTP server (default: run the embedded demo "
        "sink on 127.0.0.1:8625 and show mail at /hop-thu)",
    )
    p.add_argument(
        "--smtp-sink-port",
        type=int,
        default=8625,
        help="port of the embedded SMTP sink (default 8625; 0 = any)",
    )
    p.add_argument(
        "--public-origin",
        default=None,
        metavar="URL",
        help="the origin browsers use, e.g. https://kekhai.example.vn (default "
        "http://HOST:PORT); signed challenges must name exactly this origin",
    )
    p.add_argument(
        "--process-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the simulated BHXH office moves dossiers along every SECONDS (0: never)",
    )
    p.add_argument(
        "--debug-hooks",
        action="store_true",
        help="enable POST /api/v1/debug/advance (tests and demos)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log requests")
    return p


def _default_db() -> str:
    from agent.config.paths import data_dir

    return str(Path(data_dir()) / "portal.sqlite3")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    trust, crls = args.trust, args.crl
    if not trust:
        from agent.demo import tokens as demo_tokens

        trust, demo_crls = demo_tokens.trust_files()
        crls = crls or demo_crls
        if not trust:
            print(
                "kyso-portal: no --trust CA given and no demo PKI found; run "
                "'kyso-agent demo-token init' or pass --trust CA.pem",
                file=sys.stderr,
            )
            return 2
    host_for_url = f"[{args.host}]" if ":" in args.host else args.host
    config = PortalConfig(
        db_path=args.db or _default_db(),
        trust_paths=trust,
        crl_paths=crls,
        public_origin=(args.public_origin or f"http://{host_for_url}:{args.port}").rstrip("/"),
        smtp_host=args.smtp[0] if args.smtp else "127.0.0.1",
        smtp_port=args.smtp[1] if args.smtp else args.smtp_sink_port,
        smtp_sink=args.smtp is None,
        process_interval=args.process_interval,
        debug_hooks=args.debug_hooks,
    )
    from agent.signing.challenge import check_origin
    from portal_stub.app import create_app

    try:
        check_origin(config.public_origin)
        app = create_app(config)
    except KysoError as exc:
        print(f"kyso-portal: {exc.message_en} {exc.to_dict()['action_en']}", file=sys.stderr)
        return 2
    print(
        f"Cổng BHXH thử nghiệm: {config.public_origin}/  (hộp thư: {config.public_origin}/hop-thu)"
        if config.smtp_sink
        else config.public_origin,
        flush=True,
    )
    try:
        web.run_app(app, host=args.host, port=args.port, print=None)
    except OSError as exc:  # a port in use (the portal's or the SMTP sink's)
        print(
            f"kyso-portal: cannot listen: {exc.strerror or exc}. Choose another --port or "
            "--smtp-sink-port.",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
