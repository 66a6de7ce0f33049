"""The bridge README's example, copied exactly as the README says, signs a user in.

The files the README lists ("Example: sign in with the USB token") are copied into an empty
folder, the example's ``server.py`` serves them on a second https origin (one the agent was not
told about: the user is asked to pair it), and Chromium completes a signed login against the
real agent. The browser console is the integrator's first bug report, so it is checked too:
nothing at all while the agent runs; while it does not, exactly the lines the README documents.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.demo.portal_tls import ensure_portal_certificate
from tests.browser import harness
from tests.browser.conftest import Stack

pytestmark = pytest.mark.browser

BRIDGE = harness.REPO / "bridge_js"
README = BRIDGE / "README.md"


def readme_copy_list() -> list[str]:
    """The files the README tells an integrator to copy (between its copy-list markers)."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- copy-list -->(.*?)<!-- /copy-list -->", text, re.S)
    assert block, "the README lost its copy list"
    files = re.findall(r"^- `([^`]+)`", block.group(1), re.M)
    assert files, "the README's copy list is empty"
    return files


@dataclass
class Console:
    """What a developer would see in DevTools: console errors, failed requests, page errors."""

    errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    failed: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        """Record everything from now on."""
        page.on(
            "console",
            lambda m: m.type == "error" and self.errors.append((m.text, m.location.get("url", ""))),
        )
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.errors.clear()
        self.failed.clear()
        self.page_errors.clear()


@dataclass
class Example:
    """The example site and how its page's bridge reaches the test agent."""

    origin: str
    folder: Path
    ping_port: int
    ports: list[int]

    def bridge_options(self) -> dict[str, Any]:
        """The test agent's port first, then two ports where nothing listens (the defaults are
        three ports too), and the agent's real ping port."""
        return {
            "ports": self.ports,
            "pingPorts": [self.ping_port],
            "callTimeoutMs": 15000,
            "interactionTimeoutMs": 60000,
        }


@pytest.fixture(scope="module")
def example(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    """``server.py`` from a folder holding exactly the README's files, on the second origin."""
    ping_port = stack.agent.ready.get("ping_port")
    if not ping_port:
        pytest.fail(f"the test agent serves no plain-http ping: {stack.agent.ready}")
    folder = tmp_path_factory.mktemp("copied-example")
    for name in readme_copy_list():
        shutil.copy(BRIDGE / name, folder / Path(name).name)
    tls = ensure_portal_certificate(stack.portal_tls)
    ca = stack.demo["ca"]
    origin = f"https://127.0.0.1:{stack.other_port}"
    argv = [
        sys.executable,
        str(folder / "server.py"),
        "--origin",
        origin,
        "--port",
        str(stack.other_port),
        "--tls-cert",
        str(tls.cert_path),
        "--tls-key",
        str(tls.key_path),
        "--agent-ping-port",
        str(ping_port),
        "--trust",
        ca["root"],
        "--trust",
        ca["issuing"],
        "--crl",
        ca["crl"],
        "--crl",
        ca["root_crl"],
    ]
    process = harness.Process("bridge-example", argv, harness.python_env(stack.kyso_home))
    process.start()
    try:
        ports = [stack.agent_port, harness.free_port(), harness.free_port()]
        yield Example(origin, folder, int(ping_port), ports)
    finally:
        process.stop()


def _open(stack: Stack, example: Example) -> tuple[Any, Any, Console]:
    context = stack.new_context(bridge=example.bridge_options())
    page = context.new_page()
    console = Console()
    console.attach(page)
    page.goto(f"{example.origin}/")
    page.wait_for_selector("#sign-in:not([disabled])")
    return context, page, console


def _sign_in(page: Any, state: str) -> Any:
    page.click("#sign-in")
    return page.wait_for_selector(f"#status[data-state={state}]", timeout=60000)


def _refused(url: str) -> tuple[str, str]:
    return ("Failed to load resource: net::ERR_CONNECTION_REFUSED", url)


def test_readme_example_signs_in_with_a_clean_console(stack: Stack, example: Example) -> None:
    """The copied example completes a signed login (pairing, consent and PIN answered by the
    scripted prompter) and the server knows who signed in. The console stays empty and no
    request fails: discovery, the WebSocket, the page's own requests."""
    stack.answer()
    context, page, console = _open(stack, example)
    try:
        status = _sign_in(page, "done")
        org = stack.demo["certificates"]["org"]
        assert "Đã đăng nhập" in status.inner_text()
        me = page.evaluate("fetch('/me').then((r) => r.json())")
        assert me["user"]["thumbprint"] == stack.thumbprint("org")
        assert me["user"]["mst"] and me["user"]["mst"] in status.inner_text()
        assert org  # the demo's unit certificate signed in
        assert console.errors == []
        assert console.failed == []
        assert console.page_errors == []
    finally:
        context.close()


def test_without_the_agent_the_console_shows_only_the_documented_lines(
    stack: Stack, example: Example
) -> None:
    """Kyso stopped: the page says so in Vietnamese with what to do. A browser that has found
    Kyso before logs ONE failed request (the ping); a first visit logs the ping and one line per
    port. Nothing else (no CORS errors, no WebSocket errors)."""
    stack.answer()
    context, page, console = _open(stack, example)
    try:
        _sign_in(page, "done")  # this browser has now found Kyso (with its ping answering)
        stack.agent.stop()
        page.reload()
        page.wait_for_selector("#sign-in:not([disabled])")
        console.clear()
        status = _sign_in(page, "error")
        assert status.get_attribute("data-code") == "AGENT_UNREACHABLE"
        assert "Kyso" in status.inner_text()
        ping = f"http://127.0.0.1:{example.ping_port}/v1/ping"
        assert console.errors == [_refused(ping)]
        assert console.failed == [ping]

        first_context, first_page, first_console = _open(stack, example)
        try:
            status = _sign_in(first_page, "error")
            assert status.get_attribute("data-code") == "AGENT_UNREACHABLE"
            module = f"{example.origin}/kyso-bridge.mjs"
            sockets = [
                (
                    f"WebSocket connection to 'wss://127.0.0.1:{port}/v1/ws' failed: "
                    "Error in connection establishment: net::ERR_CONNECTION_REFUSED",
                    module,
                )
                for port in example.ports
            ]
            assert first_console.errors == [_refused(ping), *sockets]
            assert first_console.page_errors == []
        finally:
            first_context.close()
    finally:
        context.close()
        if stack.agent.popen is None or stack.agent.popen.poll() is not None:
            stack.agent.start()
