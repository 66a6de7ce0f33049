"""A loopback HTTP service that answers 404 to everything and records what reached it: the
"somewhere else" a redirect or an announced address could point Kyso at."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest


class RecordingServer:
    """Records each request as "METHOD /path"; ``url`` is its base address."""

    def __init__(self, path: str = "") -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def elsewhere() -> Iterator[RecordingServer]:
    """A recording service for one test."""
    server = RecordingServer()
    yield server
    server.close()
