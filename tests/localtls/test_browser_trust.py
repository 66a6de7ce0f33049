"""Chromium, for real: the local CA is refused until `trust install` puts it in the NSS database,
then https://127.0.0.1, https://[::1] and https://localhost load without any certificate error."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.localtls import ensure_server_certificate, ssl_context
from agent.localtls.truststore import TrustState, run_trust
from agent.localtls.truststore_nss import NssBackend

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = "<title>Kyso TLS</title><p>xin chào</p>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def tls_servers(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """The loopback certificate served on 127.0.0.1 and ::1: (tls dir, v4 port, v6 port)."""
    tls = tmp_path / "tls"
    context = ssl_context(ensure_server_certificate(tls))
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Hello), _Server6(("::1", 0), _Hello)]
    for server in servers:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tls, servers[0].server_address[1], servers[1].server_address[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.browser
def test_chromium_trusts_the_local_ca_only_after_trust_install(tmp_path: Path, tls_servers) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: install the Debian package chromium")
    from playwright.sync_api import Error, sync_playwright

    tls, port4, port6 = tls_servers
    home = tmp_path / "home"
    home.mkdir()
    urls = [
        f"https://127.0.0.1:{port4}/",
        f"https://localhost:{port4}/",
        f"https://[::1]:{port6}/",
    ]

    def visit(*targets: str) -> list[str]:
        """Titles of the pages, in one fresh Chromium (it reads its NSS database at start)."""
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            )
            try:
                page = browser.new_page()
                titles = []
                for url in targets:
                    page.goto(url, timeout=15000)
                    titles.append(page.title())
                return titles
            finally:
                browser.close()

    with pytest.raises(Error, match="ERR_CERT_AUTHORITY_INVALID"):
        visit(urls[0])
    report = run_trust("install", directory=tls, backend=NssBackend(home=home))
    assert [s.state for s in report.stores] == [TrustState.TRUSTED]
    assert (home / ".pki" / "nssdb" / "cert9.db").exists()
    assert visit(*urls) == ["Kyso TLS"] * 3
