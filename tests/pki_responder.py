"""Shared by the revocation tests: the demo's real OCSP/CRL responder and a clean status cache.

The session demo (tests/conftest.py) names a free loopback port in its certificates; nothing
listens there unless a test starts :class:`agent.demo.responder.DemoResponder`, so every other
test sees "revocation status unknown" (connection refused at once) and signs as before.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def status_cache_dir() -> Path:
    """Where the agent and the CLI cache revocation answers: under the state root."""
    from agent.config.paths import data_dir

    return data_dir() / "certstatus"


def clear_status_cache() -> None:
    """Forget every cached answer (as on a machine that never checked)."""
    shutil.rmtree(status_cache_dir(), ignore_errors=True)


def demo_der(demo: dict[str, Any], name: str) -> bytes:
    """DER of a demo end-entity certificate by profile name."""
    pem = Path(demo["certificates"][name]["path"]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def issuing_der(demo: dict[str, Any]) -> bytes:
    """DER of the demo's issuing CA (the issuer of every end-entity certificate)."""
    pem = Path(demo["ca"]["issuing"]).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


class ReplayResponder:
    """An on-path attacker at the demo's OCSP/CRL addresses: answers every OCSP request with
    ``ocsp`` (503 when None) and ``/issuing.crl`` with ``crl`` (404 when None); the issuing CA's
    certificate as the real one does. Binds 127.0.0.1 on the port the demo certificates name.
    ``pieces``: send each body in writes of that many bytes, a few ms apart (as a slow network
    delivers it); ``redirect``: answer every request with a 307 to that URL + the path."""

    def __init__(
        self,
        demo: dict[str, Any],
        *,
        ocsp: bytes | None,
        crl: bytes | None,
        pieces: int | None = None,
        redirect: str | None = None,
    ) -> None:
        files = {"/issuing-ca.crt": issuing_der(demo)}
        if crl is not None:
            files["/issuing.crl"] = crl
        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append("POST " + self.path)
                if redirect is not None:
                    self._redirect()
                else:
                    self._send(503, b"down") if ocsp is None else self._send(200, ocsp)

            def do_GET(self) -> None:
                seen.append("GET " + self.path)
                body = files.get(self.path)
                if redirect is not None:
                    self._redirect()
                else:
                    self._send(404, b"") if body is None else self._send(200, body)

            def _redirect(self) -> None:
                self.send_response(307)
                self.send_header("Location", f"{redirect}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = pieces or len(body) or 1
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    if pieces:
                        self.wfile.flush()
                        time.sleep(0.002)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", demo["responder"]["port"]), Handler
        )
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ReplayResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
