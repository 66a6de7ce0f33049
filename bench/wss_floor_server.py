"""The floor under the agent's overhead: a bare aiohttp WSS server doing the same token work.

Started by ``bench/agent_roundtrip.py`` as its own process, like the agent. For every text
message it does exactly what the agent does for ``sign.hash`` at the token (log in with the
PIN, sign the digest, log out) and answers with a reply of the same shape, but with none of the
agent's own work: no JSON-RPC, no schema, no origin or limit checks, no consent or PIN prompt,
no audit line. What this server adds over the in-process token layer is what WSS and a second
process cost on this machine; the agent's overhead minus this is the agent's own.

    python bench/wss_floor_server.py PIN THUMBPRINT      # prints {"url": ...} when ready
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from agent.demo.manifest import activate, load_manifest
from agent.localtls import default_directory, ensure_server_certificate, ssl_context
from agent.signing.raw import sign_hash
from agent.signing.signer import TokenSigner
from agent.tokens.modules import ModuleCandidate
from agent.tokens.pin import StaticPinProvider
from agent.tokens.service import TokenService


async def serve(pin: str, thumbprint: str) -> None:
    """Serve on a free loopback port until SIGTERM."""
    manifest = load_manifest()
    if manifest is None:
        raise SystemExit("no demo tokens under $KYSO_HOME: run bench/agent_roundtrip.py")
    activate()
    tokens = TokenService([ModuleCandidate(manifest["module"], "SoftHSM2 (demo)", "demo", True)])
    await tokens.start(monitor=False)
    cert = await tokens.find_certificate(thumbprint)
    pins = StaticPinProvider(pin)

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for msg in ws:
            request_id = json.loads(msg.data)["id"]
            digest = hashlib.sha256(b"bench").digest()
            async with tokens.open_key(cert, pins) as key:
                signature, used = await sign_hash(TokenSigner(key), digest)
            result = {
                "signature": base64.b64encode(signature).decode(),
                "algorithm": used.value,
                "certificate": base64.b64encode(cert.info.der).decode(),
                "thumbprint": cert.thumbprint,
            }
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}))
        return ws

    app = web.Application()
    app.router.add_get("/v1/ws", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl_context(ensure_server_certificate(default_directory()))
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"url": f"wss://127.0.0.1:{port}/v1/ws"}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await tokens.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
