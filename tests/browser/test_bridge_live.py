"""The bridge's own API in a real Chromium against the real agent: the handshake, events and
reconnection after the agent restarts (what a portal's long-lived page relies on)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent.demo import tokens as demo_tokens
from tests.browser.conftest import Stack

pytestmark = pytest.mark.browser

START = """async (options) => {
  const { KysoBridge } = await import('/kyso-bridge/kyso-bridge.mjs');
  const kyso = new KysoBridge({ ...options, reconnectDelaysMs: [200, 500, 1000] });
  window.events = [];
  kyso.on('connected', (info) => events.push(['connected', info.port]));
  kyso.on('disconnected', (error) => events.push(['disconnected', error.code]));
  kyso.on('tokens.changed', (p) => events.push(['tokens.changed', p.event, p.token.label]));
  window.kyso = kyso;
  return await kyso.connect();
}"""


@pytest.fixture
def bridge_page(stack: Stack, shared_portal: str) -> Iterator[Any]:
    """A portal page with a connected bridge in ``window.kyso``; agent info in ``.info``."""
    stack.answer()
    context = stack.new_context()
    page = context.new_page()
    page.goto(f"{shared_portal}/")
    page.info = page.evaluate(START, stack.bridge_options())
    yield page
    context.close()


def _events(page: Any, kind: str) -> list[list[Any]]:
    return [e for e in page.evaluate("() => window.events") if e[0] == kind]


def _wait_events(page: Any, kind: str, count: int = 1, timeout: float = 30.0) -> list[list[Any]]:
    """Poll from Python: the portal's CSP forbids the string eval of wait_for_function."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _events(page, kind)
        if len(found) >= count:
            return found
        page.wait_for_timeout(100)
    raise AssertionError(f"no {kind} event: {page.evaluate('() => window.events')}")


def test_handshake_reports_the_agent_and_its_scripted_prompter(
    stack: Stack, bridge_page: Any
) -> None:
    """The page sees the agent's identity, protocol, its own origin, and, loudly, that a
    scripted prompter answers instead of a person."""
    info = bridge_page.info
    assert info["name"] == "Kyso"
    assert "1" in info["protocol"]
    assert info["port"] == stack.agent_port
    assert info["scripted_prompter"] is True
    assert info["origin"] == stack.origin
    certificates = bridge_page.evaluate("kyso.listCertificates()")
    thumbprints = {c["thumbprint"] for c in certificates}
    assert stack.thumbprint("org") in thumbprints
    expired = next(c for c in certificates if c["thumbprint"] == stack.thumbprint("expired"))
    assert expired["usable"] is False


def test_reconnects_after_the_agent_restarts(stack: Stack, bridge_page: Any) -> None:
    """Kyso restarts (update, crash, log-out/in): the page notices, finds it again by itself,
    and the next call works without a reload."""
    stack.restart_agent()
    _wait_events(bridge_page, "connected", count=2)
    assert _events(bridge_page, "disconnected")[0][1] == "CONNECTION_LOST"
    tokens = bridge_page.evaluate("kyso.listTokens()")
    assert {t["label"] for t in tokens} >= {"KYSO DEMO 1", "KYSO DEMO 2"}


def test_token_removal_reaches_the_page(stack: Stack, bridge_page: Any) -> None:
    """Pulling a token out is announced to the page as tokens.changed (removed)."""
    token_dir = demo_tokens.token_directory("KYSO DEMO 2")
    away = stack.root / "pulled-out" / token_dir.name
    away.parent.mkdir(exist_ok=True)
    shutil.move(token_dir, away)
    try:
        removed = _wait_events(bridge_page, "tokens.changed")[0]
        assert removed[1:] == ["removed", "KYSO DEMO 2"]
    finally:
        shutil.move(away, token_dir)
        stack.restart_agent()


def test_unknown_site_is_paired_on_first_use(stack: Stack, other_portal: str) -> None:
    """A site the agent does not know yet cannot read /v1/info (no CORS for it), so the bridge
    finds the agent by an opaque probe and opens the WebSocket, where Kyso asks the user; once
    allowed, the page works."""
    stack.answer(pair="once")
    context = stack.new_context()
    page = context.new_page()
    page.goto(f"{other_portal}/")
    info = page.evaluate(START, stack.bridge_options())
    assert info["origin"] == other_portal
    assert len(page.evaluate("kyso.listTokens()")) >= 2
    context.close()


def test_classic_script_build_works_in_the_browser(stack: Stack, shared_portal: str) -> None:
    """Pages without modules use kyso-bridge.js (window.KysoBridge): same API, same agent."""
    context = stack.new_context()
    page = context.new_page()
    page.goto(f"{shared_portal}/")
    page.add_script_tag(url="/kyso-bridge/kyso-bridge.js")
    info = page.evaluate(
        "(o) => new window.KysoBridge.KysoBridge(o).connect()", stack.bridge_options()
    )
    assert info["name"] == "Kyso"
    context.close()
