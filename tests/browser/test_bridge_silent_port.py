"""Red team 40: a port that accepts TCP but never speaks TLS stopped the bridge's discovery.

The bridge tries the agent's ports one at a time and treats anything but close 1006 as "the
answer" (a timeout included, because the agent may hold the upgrade while it asks the user to
pair). A listener that accepts and then says nothing — another OS user squatting 27443 on a
terminal server (binding a port above 1024 needs no privilege), or simply a hung process that
holds the port (a stopped agent: the kernel still completes the TCP handshakes into its
backlog) — therefore makes the page wait the whole interaction timeout (300 s by default) and
then fail with TIMEOUT, although the user's own agent answers on the next port. The port the
bridge remembered is not forgotten either, so every later visit hung the same way. A port
silent past the probe timeout now keeps its attempt while the next port is tried alongside it
(bridge_js/src/discovery.mjs firstOpen).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.browser.conftest import Stack
from tests.browser.harness import free_port

pytestmark = pytest.mark.browser


class Staller:
    """Accepts TCP connections on a loopback port and never answers (a squatter, a hung process)."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        if accept:
            self.thread.start()

    @property
    def reached(self) -> bool:
        """Whether Chromium's connection got in (accepted and held)."""
        return bool(self.held)

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self.stop = True
        if self.accept:
            self.thread.join(2)
        for c in self.held:
            c.close()
        self.sock.close()


CONNECT = """async (options) => {
  const { KysoBridge } = await import('/kyso-bridge/kyso-bridge.mjs');
  const kyso = new KysoBridge({ ...options, storage: null });
  const started = Date.now();
  try {
    const info = await kyso.connect();
    return { ok: true, port: info.port, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, code: error.code, ms: Date.now() - started };
  } finally {
    kyso.close();
  }
}"""


@pytest.mark.parametrize("accept", [True, False], ids=["squatter-accepts", "hung-process-backlog"])
def test_a_silent_listener_on_an_earlier_port_does_not_hide_the_users_agent(
    stack: Stack, shared_portal: str, accept: bool
) -> None:
    """The user's agent answers on the second port; a listener that accepts and stays silent
    holds the first (a default port another user took). The page must still find its agent
    (as it does when the first port is closed or refuses the connection)."""
    staller = Staller(accept)
    stack.answer()
    context = stack.new_context()
    page = context.new_page()
    try:
        page.goto(f"{shared_portal}/")
        # interactionTimeoutMs is shortened from the default 300 s only to keep the test short.
        options = stack.bridge_options(
            ports=[staller.port, stack.agent_port], interactionTimeoutMs=8000
        )
        started = time.monotonic()
        result = page.evaluate(CONNECT, options)
        took = time.monotonic() - started
        if accept:  # (a backlog connection is the kernel's: nothing to count here)
            assert staller.reached or result.get("ok"), "Chromium never reached the listener"
        assert result.get("ok") and result.get("port") == stack.agent_port, (
            f"the bridge gave up on the silent port after {took:.1f} s: {result} "
            f"(with the default interactionTimeoutMs, after 300 s)"
        )
    finally:
        context.close()
        staller.close()


def test_control_a_closed_earlier_port_is_skipped(stack: Stack, shared_portal: str) -> None:
    """Control: with nothing listening on the first port the bridge moves on at once."""
    stack.answer()
    context = stack.new_context()
    page = context.new_page()
    try:
        page.goto(f"{shared_portal}/")
        options = stack.bridge_options(
            ports=[free_port(), stack.agent_port], interactionTimeoutMs=8000
        )
        result = page.evaluate(CONNECT, options)
        assert result.get("ok") and result.get("port") == stack.agent_port, result
    finally:
        context.close()
