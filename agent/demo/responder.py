"""The demo PKI's revocation services on loopback: OCSP (answered by ``openssl ocsp``) and CRLs.

One small HTTP server bound to 127.0.0.1 only serves what the demo certificates point at
(:class:`agent.demo.pki.PkiUrls`): ``POST /ocsp``, ``GET /issuing.crl``, ``GET /root.crl``,
``GET /issuing-ca.crt`` and ``GET /root-ca.crt``. Each OCSP request is answered by a real
``openssl ocsp`` responder run once per request on the demo's index (``-reqin``/``-respout``):
openssl's own ``-port`` mode
listens on every interface, which a demo must not do. The server runs on a daemon thread of the
process that started it, so it ends with its owner at the latest; ``stop()`` ends it sooner.

For the demo (``kyso-agent demo``) and the tests only.
"""

from __future__ import annotations

import http.server
import logging
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.errors import KysoError, invalid_input

from .pki import OCSP_NEXT_UPDATE_MINUTES

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_REQUEST_BYTES = 64 * 1024  # an OCSP request for one certificate is ~100 bytes
OPENSSL_TIMEOUT_SECONDS = 10.0


def _der_file(path: str, kind: str) -> bytes:
    data = Path(path).read_bytes()
    if kind == "crl":
        return x509.load_pem_x509_crl(data).public_bytes(serialization.Encoding.DER)
    return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        source = self.server.files.get(self.path)
        if source is None:
            self._send(404, b"not found\n", "text/plain")
            return
        try:
            body = _der_file(*source)
        except (OSError, ValueError) as exc:
            log.warning("demo PKI responder cannot read %s: %s", source[0], exc)
            self._send(500, b"responder error\n", "text/plain")
            return
        kind = "application/pkix-crl" if self.path.endswith(".crl") else "application/pkix-cert"
        self._send(200, body, kind)

    def do_POST(self) -> None:
        declared = self.headers.get("Content-Length") or ""
        length = int(declared) if declared.isdigit() else 0
        if self.path != "/ocsp" or not 0 < length <= MAX_REQUEST_BYTES:
            self._send(400, b"bad request\n", "text/plain")
            return
        request = self.rfile.read(length)
        if self.server.answer_ocsp is None:
            self._send(503, b"OCSP responder down\n", "text/plain")
            return
        self.server.requests += 1
        try:
            answer = self.server.answer_ocsp(request)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("demo OCSP responder failed: %s", exc)
            self._send(500, b"responder error\n", "text/plain")
            return
        self._send(200, answer, "application/ocsp-response")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("demo PKI responder: " + format, *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never keeps the owner alive
    files: dict[str, tuple[str, str]]  # URL path -> (PEM file, kind), read per request
    requests: int
    answer_ocsp: Any


class DemoResponder:
    """OCSP + CRL server for the demo PKI described by a demo manifest.

    Use as a context manager, or call :meth:`start` / :meth:`stop`. ``port`` defaults to the one
    written into the certificates (manifest ``responder.port``). ``ocsp=False`` answers OCSP
    requests with 503, as a responder that is down while the CRL is still published.
    """

    def __init__(
        self, manifest: dict[str, Any], port: int | None = None, *, ocsp: bool = True
    ) -> None:
        spec = manifest.get("responder")
        if not spec:
            # Demo tokens made by an older version carry no OCSP/CRL URLs: nothing to serve.
            raise invalid_input(
                "this demo has no revocation responder: run 'kyso-agent demo-token "
                "reset' to make a new demo",
                "bản thử nghiệm này không có máy chủ trả lời trạng thái thu hồi: chạy "
                "'kyso-agent demo-token reset' để tạo bản thử nghiệm mới",
            )
        self._spec = spec
        self.port = spec["port"] if port is None else port
        ca = manifest["ca"]
        self._issuing_ca = ca["issuing"]
        # Read per request: the issuing CA's CRL is issued again when a certificate it issued
        # later (the remote service's revoked one) is recorded as revoked.
        self._files = {
            "/issuing.crl": (ca["crl"], "crl"),
            "/root.crl": (ca["root_crl"], "crl"),
            "/issuing-ca.crt": (ca["issuing"], "cert"),
            "/root-ca.crt": (ca["root"], "cert"),
        }
        for path, kind in self._files.values():
            _der_file(path, kind)  # unreadable files fail here, as before, not per request
        self._ocsp = ocsp
        self._openssl = shutil.which("openssl")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one openssl at a time: the index is read per request

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) the server is bound to while running."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def requests(self) -> int:
        """How many OCSP requests were answered (tests use it to prove a cache hit)."""
        return self._server.requests if self._server is not None else 0

    def start(self) -> DemoResponder:
        """Listen on 127.0.0.1:<port>; PORT_UNAVAILABLE when the port is taken."""
        if self._openssl is None:
            raise KysoError("MODULE_NOT_FOUND", {"detail": "openssl (Debian package openssl)"})
        try:
            server = _Server((LOOPBACK, self.port), _Handler)
        except OSError as exc:
            raise KysoError("PORT_UNAVAILABLE", {"ports": str(self.port)}) from exc
        server.files = self._files
        server.requests = 0
        server.answer_ocsp = self._answer if self._ocsp else None
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, name="kyso-demo-pki", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> DemoResponder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, request: bytes) -> bytes:
        """Run ``openssl ocsp`` as the responder for one DER request; returns the DER answer."""
        assert self._openssl is not None
        spec = self._spec
        with self._lock, tempfile.TemporaryDirectory(prefix="kyso-ocsp-") as tmp:
            req, resp = Path(tmp) / "req.der", Path(tmp) / "resp.der"
            req.write_bytes(request)
            subprocess.run(
                [
                    self._openssl,
                    "ocsp",
                    "-index",
                    spec["index"],
                    "-CA",
                    self._issuing_ca,
                    "-rsigner",
                    spec["ocsp_cert"],
                    "-rkey",
                    spec["ocsp_key"],
                    "-nmin",
                    str(OCSP_NEXT_UPDATE_MINUTES),
                    "-reqin",
                    str(req),
                    "-respout",
                    str(resp),
                ],
                check=True,
                capture_output=True,
                timeout=OPENSSL_TIMEOUT_SECONDS,
            )
            return resp.read_bytes()
