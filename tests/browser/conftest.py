"""One agent and one Chromium per test module; a fresh portal for each test.

Chromium runs with a temporary $HOME whose NSS database trusts the demo portal CA (certutil)
and the agent's local CA (the real ``kyso-agent trust install``). The agent is the real
``kyso-agent run`` with the scripted prompter; each test sets the answers it needs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.demo.portal_tls import ensure_portal_certificate
from tests.browser import harness


def _require(path_or_tool: str, package: str) -> None:
    if not (Path(path_or_tool).exists() or shutil.which(path_or_tool)):
        pytest.fail(
            f"{path_or_tool} is missing: install the Debian package {package} (./run.sh test does)"
        )


@dataclass
class Stack:
    """Everything a browser test talks to."""

    root: Path
    kyso_home: Path
    home: Path  # the browser's $HOME (its NSS database)
    answers: Path
    portal_tls: Path
    portal_port: int
    other_port: int  # a second public origin that the agent was NOT told to allow
    ping_port: int  # the agent's plain-http ping: a free port, never the real 27442
    agent: harness.Process
    playwright: Any
    browser: Any
    demo: dict[str, Any]

    @property
    def origin(self) -> str:
        """The portal's origin."""
        return f"https://127.0.0.1:{self.portal_port}"

    @property
    def agent_port(self) -> int:
        """Where the agent listens."""
        return int(self.agent.ready["port"])

    def thumbprint(self, name: str) -> str:
        """A demo certificate's thumbprint by profile name (org, org_renewed, expired...)."""
        return self.demo["certificates"][name]["thumbprint"]

    def answer(self, **answers: Any) -> None:
        """Set the scripted prompter's answers (default: allow, the unit's certificate on
        token 1 and its PIN)."""
        harness.write_answers(self.answers, **{"certificate": self.thumbprint("org"), **answers})

    def restart_agent(self) -> None:
        """Stop the agent and start it again (on the same port)."""
        self.agent.stop()
        self.agent.start()

    def bridge_options(self, **extra: Any) -> dict[str, Any]:
        """What the page's bridge is told: the test agent's port and its ping port, as the
        defaults (27443..., 27442) tell a user's page."""
        return {
            "ports": [self.agent_port],
            "pingPorts": [self.ping_port],
            "callTimeoutMs": 15000,
            "interactionTimeoutMs": 60000,
            **extra,
        }

    def new_context(
        self,
        *,
        grant: bool = True,
        bridge: dict[str, Any] | None = None,
        browser: Any = None,
        origins: tuple[str, ...] = (),
    ) -> Any:
        """A browser context as a user would have it: LNA allowed for the portal (or not)."""
        context = (browser or self.browser).new_context(
            locale="vi-VN", viewport={"width": 1200, "height": 900}
        )
        if grant:
            for origin in (self.origin, f"https://127.0.0.1:{self.other_port}", *origins):
                context.grant_permissions(["local-network-access"], origin=origin)
        options = bridge if bridge is not None else self.bridge_options()
        context.add_init_script(f"window.KYSO_BRIDGE_OPTIONS = {json.dumps(options)};")
        context.set_default_timeout(20000)
        return context


# Module scope, not session: a live sync Playwright keeps an event loop on the main thread, and
# other areas' tests (async ones, or their own sync_playwright) must not run while it exists.
@pytest.fixture(scope="module")
def stack(
    demo: dict[str, Any], kyso_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Agent + Chromium for one test module (the portal is per test: see ``portal``)."""
    yield from open_stack(demo, kyso_home, tmp_path_factory)


def open_stack(
    demo: dict[str, Any],
    kyso_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    prompter: str | None = None,
    agent_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """The ``stack`` fixture's body; a module may override ``stack`` to run the agent with
    another prompter (tests/browser/test_real_dialogs.py: the real dialogs on Xvfb)."""
    _require(harness.CHROMIUM, "chromium")
    _require("certutil", "libnss3-tools")
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("browser")
    portal_tls = root / "portal-tls"
    tls = ensure_portal_certificate(portal_tls)
    home = harness.chromium_home(root / "home", tls.ca_cert_path)
    answers = root / "answers.json"
    harness.write_answers(answers)
    portal_port, other_port = harness.free_port(), harness.free_port()
    # A free ping port, not the real 27442 (a user's Kyso or another test run may hold it):
    # the portals' CSP is given this port in place of 27442 (tests/browser/portal_main.py) and
    # the pages' bridge is told it (bridge_options), so the diagnosis runs as it does for users.
    ping_port = harness.free_port()
    agent = harness.agent_process(
        kyso_home,
        answers,
        port=harness.free_port(),
        allow_origins=[f"https://127.0.0.1:{portal_port}"],
        ping_port=ping_port,
        prompter=prompter,
        env=agent_env,
    )
    agent.start()
    playwright = browser = None
    try:
        harness.trust_agent_ca(kyso_home, home)
        playwright = sync_playwright().start()
        browser = harness.launch_chromium(playwright, home, [portal_port, other_port])
        yield Stack(
            root,
            kyso_home,
            home,
            answers,
            portal_tls,
            portal_port,
            other_port,
            ping_port,
            agent,
            playwright,
            browser,
            demo,
        )
    finally:
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()
        agent.stop()


def _run_portal(stack: Stack, port: int, name: str) -> Iterator[str]:
    process = harness.portal_process(
        stack.kyso_home, stack.portal_tls, port, ping_port=stack.ping_port, name=name
    )
    process.start()
    try:
        yield process.ready["url"]
    finally:
        process.stop()


@pytest.fixture
def portal(stack: Stack) -> Iterator[str]:
    """A fresh portal (empty database, its SMTP sink) on the stack's public port."""
    stack.answer()
    yield from _run_portal(stack, stack.portal_port, "portal")


@pytest.fixture(scope="module")
def shared_portal(stack: Stack) -> Iterator[str]:
    """One portal for a whole module (tests that never complete a signed step)."""
    yield from _run_portal(stack, stack.portal_port, "portal")


@pytest.fixture(scope="module")
def other_portal(stack: Stack) -> Iterator[str]:
    """A second portal on an origin the agent was not told to allow (pairing is asked)."""
    yield from _run_portal(stack, stack.other_port, "portal-other")


@pytest.fixture
def page(stack: Stack, portal: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a context that trusts what a set-up user trusts and allows LNA for the portal."""
    context = stack.new_context()
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            harness.screenshot(page, f"FAILED-{request.node.name}")
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Remember each phase's report on the item (for the failure screenshot)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
