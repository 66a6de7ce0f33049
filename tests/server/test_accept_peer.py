"""The same-OS-user check at accept time (issue 11, point 6): another user's connection is closed
before TLS and before any header is read, on the HTTPS port and on the ping port alike.

Two ways: the uid lookup injected at its seam (``serve(peer_check=...)``), and a real second OS
user (created with useradd, run with runuser) whose probe cannot even finish a TLS handshake.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.server.context import Services
from agent.server.runner import serve
from tests.server.conftest import ORIGIN, Harness, make_settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_connection_the_uid_check_refuses_never_reaches_tls(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[Any, Any]] = []

    def other_user(peer: Any, ours: Any) -> bool:
        calls.append((peer, ours))
        return False

    ping_port = _free_port()
    services = Services(harness.tokens, harness.prompter, harness.approvals, harness.audit)
    harness.agent = await serve(
        make_settings(ping_port=ping_port),
        services=services,
        tls=harness.server_ssl,
        peer_check=other_user,
    )
    caplog.set_level(logging.INFO)
    port = harness.agent.port
    # A raw TLS client: the agent closes the socket before answering the ClientHello.
    with pytest.raises((ConnectionError, ssl.SSLError)):
        await asyncio.open_connection(
            "127.0.0.1", port, ssl=harness.client_ssl, server_hostname="127.0.0.1"
        )
    with pytest.raises(aiohttp.ClientError):
        await harness.raw_ws(ORIGIN)
    with pytest.raises(aiohttp.ClientError):
        await harness.session.get(f"http://127.0.0.1:{ping_port}/v1/ping")
    # The check saw the accepted socket's two ends, loopback on both sides.
    assert len(calls) >= 3
    for peer, ours in calls:
        assert peer[0] == ours[0] == "127.0.0.1" and ours[1] in (port, ping_port)
    sites = {site.name: site for site in harness.agent.sites}
    assert sites[f"https://127.0.0.1:{port}"].refused_user >= 2
    assert sites[f"http://127.0.0.1:{ping_port}"].refused_user >= 1
    assert all(site.open == 0 for site in sites.values())
    refused = [r for r in caplog.records if "from another OS user" in r.getMessage()]
    assert len(refused) == 2  # once per listener, then throttled
    # Nothing behind the check ran: no Host/Origin middleware, no pairing, no prompt.
    assert not [r for r in caplog.records if r.name == "agent.server.app"]
    assert harness.prompter.prompts == []


async def test_our_own_connections_pass_the_real_check(harness: Harness) -> None:
    ping_port = _free_port()
    await harness.start(ping_port=ping_port)  # the real /proc lookup
    client = await harness.client()
    assert (await client.call("agent.info"))["name"] == "Kyso"
    response = await harness.session.get(f"http://127.0.0.1:{ping_port}/v1/ping")
    assert response.status == 204
    assert all(site.refused_user == 0 for site in harness.agent.sites)


def _other_user() -> str:
    """A second OS user for the terminal-server case (created once; needs root)."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.fail("this test needs root with useradd and runuser to create a second OS user")
    name = "kysopeer"
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
    return name


PROBE = r"""
import socket, ssl, sys
port, ping_port, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
try:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
            print(s.recv(65536).split(b"\r\n", 1)[0].decode())
except (OSError, ssl.SSLError) as exc:
    print("TLS refused:", type(exc).__name__)
try:
    with socket.create_connection(("127.0.0.1", ping_port), timeout=20) as s:
        s.sendall(b"GET /v1/ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % ping_port)
        print(s.recv(65536).split(b"\r\n", 1)[0].decode() or "ping refused: EOF")
except OSError as exc:
    print("ping refused:", type(exc).__name__)
"""


async def test_another_os_user_is_closed_before_tls(harness: Harness, server_cert) -> None:
    user = _other_user()
    ping_port = _free_port()
    await harness.start(ping_port=ping_port)
    shared = Path(tempfile.mkdtemp(prefix="kyso-accept-"))
    try:
        shared.chmod(0o755)
        ca = shared / "ca.pem"
        shutil.copy(server_cert.ca_cert_path, ca)
        ca.chmod(0o644)
        (shared / "probe.py").write_text(PROBE)
        argv = [str(shared / "probe.py"), str(harness.port), str(ping_port), str(ca)]
        proc = await asyncio.create_subprocess_exec(
            "runuser", "-u", user, "--", "/usr/bin/python3", *argv, stdout=subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        tls, ping = out.decode().splitlines()[:2]
        assert tls.startswith("TLS refused:"), tls
        assert ping.startswith("ping refused:"), ping
        # The same probe as ourselves is answered on both ports.
        proc = await asyncio.create_subprocess_exec(sys.executable, *argv, stdout=subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        tls, ping = out.decode().splitlines()[:2]
        assert tls.startswith("HTTP/1.1 200") and ping.startswith("HTTP/1.1 204")
    finally:
        shutil.rmtree(shared)
    assert sum(site.refused_user for site in harness.agent.sites) == 2
    assert harness.prompter.prompts == []
