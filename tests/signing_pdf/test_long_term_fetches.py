"""B-LT's own fetches (certificates, OCSP, CRLs, done by pyhanko-certvalidator) follow the rules
of Kyso's revocation checks: no redirects, a cap on every answer (red team 24: the file came out
B-LT with answers fetched through redirects that the pre-PIN check had refused, and an endless
CRL took 2.2 GB)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.httpbody import bounded_session
from agent.signing.pdf import PadesLevel, PdfSignOptions, sign_pdf
from tests.signing_cms.conftest import token_signer

from .conftest import make_pdf


class _Redirector:
    """Answers every request at the address the demo certificates name with a 307 to the
    real responder listening elsewhere, and counts them."""

    def __init__(self, port: int, target: int) -> None:
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.1:{target}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redirected(demo: dict[str, Any]) -> Iterator[_Redirector]:
    """The demo's real OCSP/CRL responder, reachable only through a redirect."""
    from agent.demo.responder import DemoResponder

    target = _free_port()
    with DemoResponder(demo, port=target):
        redirector = _Redirector(demo["responder"]["port"], target)
        try:
            yield redirector
        finally:
            redirector.close()


async def test_revocation_data_behind_a_redirect_is_not_embedded(
    demo: dict[str, Any], token_service: Any, tsa: Any, redirected: _Redirector
) -> None:
    root = x509.load_pem_x509_certificate(Path(demo["ca"]["root"]).read_bytes())
    options = PdfSignOptions(
        timestamp_url=tsa.url,
        long_term=True,
        trust_roots=(root.public_bytes(serialization.Encoding.DER),),
    )
    async with token_signer(token_service, demo, "org") as signer:
        result = await sign_pdf(make_pdf(1), signer, options)
    assert redirected.seen, "the certificates' OCSP/CRL addresses were asked"
    assert result.level is PadesLevel.B_T, result  # not B-LT: its data came through redirects
    assert result.note  # and the person is told why


async def test_the_session_refuses_redirects_and_cuts_long_answers(aiohttp_server: Any) -> None:
    reached: list[str] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        reached.append(name)
        if name == "moved":
            raise web.HTTPTemporaryRedirect("/target")
        return web.Response(body=b"x" * (4096 if name == "long" else 10))

    app = web.Application()
    app.router.add_get("/{name}", answer)
    server = await aiohttp_server(app)
    session = bounded_session(1024)
    try:
        async with session.get(server.make_url("/short")) as response:
            assert await response.read() == b"x" * 10
        with pytest.raises(aiohttp.ClientResponseError):
            async with session.get(server.make_url("/moved")) as response:
                await response.read()
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(server.make_url("/long")) as response:
                await response.read()
    finally:
        await session.close()
    assert "target" not in reached
