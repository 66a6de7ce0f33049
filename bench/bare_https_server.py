"""The footprint floor: a bare aiohttp HTTPS server, nothing else.

Started by ``bench/footprint.py`` exactly like the agent (a new interpreter, same flags), it
imports aiohttp and the standard library's ssl only, serves one route over TLS with the agent's
own certificate on a free loopback port, prints one JSON line when ready and serves until
SIGTERM. What the agent holds above this is the agent's own footprint.

With ``--pkcs11 MODULE`` (repeatable) it also loads python-pkcs11 and initialises those PKCS#11
modules and lists their slots, and with ``--x509`` it reads its certificate with cryptography
(as the agent's start-up check of its TLS certificate does): the floor of any PKCS#11 signing
agent in Python, which ``bench/footprint.py`` prints next to the bare server.

    python bench/bare_https_server.py CERT.pem KEY.pem [--pkcs11 MODULE]... [--x509]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
from pathlib import Path

from aiohttp import web


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def load_floor(cert: str, modules: list[str], x509: bool) -> list[object]:
    """What every PKCS#11 agent must hold: the modules (kept loaded) and, optionally, a
    certificate parsed with cryptography."""
    held: list[object] = []
    if modules:
        import pkcs11

        for path in modules:
            lib = pkcs11.lib(path)
            held.append((lib, lib.get_slots(token_present=True)))
    if x509:
        from cryptography import x509 as cx509

        held.append(cx509.load_pem_x509_certificate(Path(cert).read_bytes()).not_valid_after_utc)
    return held


async def serve(cert: str, key: str) -> None:
    """Serve on a free 127.0.0.1 port until SIGTERM."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_get("/v1/info", _ok)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"url": f"https://127.0.0.1:{port}/v1/info"}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    """Parse the command line, load the floor, serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("--pkcs11", action="append", default=[], metavar="MODULE")
    parser.add_argument("--x509", action="store_true")
    args = parser.parse_args()
    held = load_floor(args.cert, args.pkcs11, args.x509)
    asyncio.run(serve(args.cert, args.key))
    del held


if __name__ == "__main__":
    main()
