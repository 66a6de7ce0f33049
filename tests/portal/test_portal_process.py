"""``kyso-agent demo`` starts the portal as its own process (``python -m portal_stub.https_server``)
and never imports it: a real portal process over HTTPS, its ready line, a taken port reported
with the portal's own error code, and a clean stop."""

from __future__ import annotations

import os
import socket
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agent.cli import demo_portal
from agent.errors import KysoError


def _args(tmp_path: Path, demo: dict[str, Any], port: int) -> dict[str, Any]:
    ca = demo["ca"]
    return {
        "tls_dir": tmp_path / "portal-tls",
        "port": port,
        "db": ":memory:",
        "trust": [ca["root"], ca["issuing"]],
        "crls": [ca["crl"]],
        "smtp_sink_port": 0,
        "process_interval": 0.0,
    }


async def test_the_demo_starts_the_portal_as_its_own_process_over_https(
    tmp_path: Path, demo: dict[str, Any]
) -> None:
    portal = await demo_portal.start_portal(**_args(tmp_path, demo, 0))
    try:
        assert portal.url == f"https://127.0.0.1:{portal.port}"
        assert portal.process.pid not in (None, os.getpid()) and portal.smtp_port > 0
        context = ssl.create_default_context(cafile=str(tmp_path / "portal-tls" / "portal-ca.pem"))
        with urllib.request.urlopen(portal.url + "/", context=context, timeout=30) as reply:
            assert reply.status == 200
            assert "BHXH" in reply.read().decode("utf-8")
    finally:
        await portal.stop()
    assert portal.process.returncode is not None


async def test_a_taken_port_is_the_portals_own_error_not_a_hang(
    tmp_path: Path, demo: dict[str, Any]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(KysoError) as caught:
            await demo_portal.start_portal(**_args(tmp_path, demo, port))
    assert caught.value.code == "PORT_UNAVAILABLE"
    assert str(port) in caught.value.message_en


@pytest.mark.parametrize(
    ("line", "returncode", "code"),
    [
        (b"", 1, "DEMO_PORTAL_FAILED"),  # e.g. the [portal] extra is not installed
        (b"Traceback ...\n", None, "DEMO_PORTAL_FAILED"),
        (b'{"url": "https://127.0.0.1:1"}\n', None, "DEMO_PORTAL_FAILED"),
        (b'{"error": {"code": "PORT_UNAVAILABLE", "details": {"ports": "8600"}}}\n', 2, None),
        (b'{"error": {"code": "NOT_A_CODE"}}\n', 2, "DEMO_PORTAL_FAILED"),
    ],
)
def test_a_portal_that_does_not_come_up_is_a_clear_error(
    line: bytes, returncode: int | None, code: str | None
) -> None:
    with pytest.raises(KysoError) as caught:
        demo_portal.ready_message(line, returncode)
    assert caught.value.code == (code or "PORT_UNAVAILABLE")
