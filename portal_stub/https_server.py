"""Serve the portal stub over HTTPS, with the JavaScript bridge mounted: for the demo and tests.

The agent only talks to https origins, so the portal the demo (and the browser tests) open in
Chromium is served with a certificate from the separate demo portal CA (:mod:`agent.demo.portal_tls`).
``python -m portal_stub.https_server --port 0 --tls-dir DIR ...`` prints one JSON line when it
is ready ({"url", "port", "smtp_port"}), or {"error": {...}} (an agent error's wire form) when it
cannot start, and serves until SIGINT/SIGTERM.

This is the portal's own entry point: ``kyso-agent demo`` starts it as a separate process
(:mod:`agent.cli.demo_portal`) and never imports the portal, which depends on the agent and not
the other way round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from agent.demo.portal_tls import PortalTls, ensure_portal_certificate
from agent.errors import KysoError
from portal_stub.app import create_app
from portal_stub.bridge_assets import BRIDGE_KEY, add_bridge_routes
from portal_stub.config import PortalConfig


@dataclass
class RunningPortal:
    """A started HTTPS portal: stop it with ``await portal.runner.cleanup()``."""

    runner: web.AppRunner
    url: str
    port: int
    smtp_port: int


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise KysoError("PORT_UNAVAILABLE", {"ports": str(port)}) from exc
        raise
    sock.setblocking(False)
    return sock


async def start_portal(
    *,
    tls: PortalTls,
    port: int = 8600,
    host: str = "127.0.0.1",
    db: str = ":memory:",
    trust: list[str] | None = None,
    crls: list[str] | None = None,
    smtp_sink_port: int = 0,
    process_interval: float = 0.0,
    debug_hooks: bool = False,
) -> RunningPortal:
    """Start the portal on ``host:port`` over HTTPS (port 0: any free port)."""
    if not trust:
        from agent.demo import tokens as demo_tokens

        trust, demo_crls = demo_tokens.trust_files()
        crls = crls or demo_crls
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    origin = f"https://{host}:{actual}"
    config = PortalConfig(
        db_path=db,
        trust_paths=list(trust or []),
        crl_paths=list(crls or []),
        public_origin=origin,
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink_port,
        smtp_sink=True,
        process_interval=process_interval,
        debug_hooks=debug_hooks,
    )
    app = create_app(config)
    if BRIDGE_KEY not in app:  # the portal mounts the bridge itself; older builds did not
        add_bridge_routes(app)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_path, tls.key_path)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()  # starts the SMTP sink too
    except OSError as exc:
        sock.close()
        await runner.cleanup()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise KysoError("PORT_UNAVAILABLE", {"ports": f"{smtp_sink_port} (SMTP)"}) from exc
        raise
    await web.SockSite(runner, sock, ssl_context=context).start()
    return RunningPortal(runner, origin, actual, config.smtp_port)


def build_parser() -> argparse.ArgumentParser:
    """Command line of the stand-alone runner (used by the browser tests)."""
    p = argparse.ArgumentParser(prog="python -m portal_stub.https_server", description=__doc__)
    p.add_argument("--port", type=int, default=8600)
    p.add_argument("--tls-dir", type=Path, required=True, help="where the portal's TLS files live")
    p.add_argument("--db", default=":memory:")
    p.add_argument("--trust", action="append", default=[])
    p.add_argument("--crl", action="append", default=[])
    p.add_argument("--smtp-sink-port", type=int, default=0)
    p.add_argument("--process-interval", type=float, default=0.0)
    p.add_argument("--debug-hooks", action="store_true")
    return p


async def _main(args: argparse.Namespace) -> int:
    try:
        portal = await start_portal(
            tls=ensure_portal_certificate(args.tls_dir),
            port=args.port,
            db=args.db,
            trust=args.trust,
            crls=args.crl,
            smtp_sink_port=args.smtp_sink_port,
            process_interval=args.process_interval,
            debug_hooks=args.debug_hooks,
        )
    except KysoError as exc:  # the parent turns this line back into the same error
        print(json.dumps({"error": exc.to_dict()}, ensure_ascii=False), flush=True)
        return 2
    print(
        json.dumps({"url": portal.url, "port": portal.port, "smtp_port": portal.smtp_port}),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await portal.runner.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(build_parser().parse_args())))
