"""The composition root: the one place that picks concrete parts and wires them together.

The server knows the UI only through :class:`~agent.ui.api.Prompter` and the token layer knows
nothing of the demo; here the CLI chooses the prompter (dialogs, terminal or scripted answers),
activates the demo tokens when they exist, builds the token service and hands both to
:func:`agent.server.runner.serve`. Imports of the concrete parts stay inside the functions, so
``kyso-agent --help`` and the other commands do not pay for them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import KysoError

if TYPE_CHECKING:
    from agent.config.settings import Settings
    from agent.server.runner import RunningAgent
    from agent.tokens.service import TokenService
    from agent.ui.api import Prompter

# The demo's manifest (agent.demo.manifest.MANIFEST, checked by tests/test_layers.py): looking for
# the file first spares every start without a demo the import of the demo package.
DEMO_MANIFEST = "demo.json"


def make_prompter(spec: str, *, timeout_seconds: float | None = None) -> Prompter:
    """The prompter named by a setting: ``dialog``, ``terminal`` or ``scripted:FILE``."""
    if spec.startswith("scripted:"):
        from agent.ui.scripted import ScriptedPrompter

        return ScriptedPrompter(Path(spec.split(":", 1)[1]), timeout_seconds=timeout_seconds)
    try:
        if spec == "terminal":
            from agent.ui.terminal import TerminalPrompter

            return TerminalPrompter()
        from agent.ui.dialogs import DialogPrompter

        return DialogPrompter()
    except ImportError as exc:
        raise KysoError("PROMPTER_UNAVAILABLE", {"prompter": spec, "detail": str(exc)}) from exc
    except Exception as exc:  # e.g. no display for tkinter
        raise KysoError("PROMPTER_UNAVAILABLE", {"prompter": spec, "detail": str(exc)}) from exc


async def open_in_browser(url: str) -> None:
    """Open a remote signing provider's sign-in page in the user's browser. The standard
    library's webbrowser may block (it starts a program), so it runs in an executor."""
    import asyncio
    import webbrowser

    await asyncio.get_running_loop().run_in_executor(None, webbrowser.open, url)


def demo_module() -> str | None:
    """Point SoftHSM2 at the demo tokens when a demo exists; their module path, else None.

    The demo package is imported only when its manifest is there (an accountant's agent
    without a demo never loads it), and then only its manifest reader: the test PKI and
    cryptography's certificate builders stay out of the agent.
    """
    from agent.config.paths import demo_dir

    if not (demo_dir() / DEMO_MANIFEST).exists():
        return None
    from agent.demo.manifest import activate

    return activate()


def build_token_service(
    configured_modules: list[str] | tuple[str, ...] = (),
    *,
    use_demo: bool = True,
    include_builtin: bool = True,
    poll_interval: float = 1.0,
) -> TokenService:
    """A TokenService over every module Kyso should try: configured, ``$KYSO_PKCS11_MODULE``,
    the demo tokens (unless ``use_demo`` is False), the built-in table."""
    from agent.runtime import build_token_service as build

    return build(
        configured_modules,
        demo_module=demo_module() if use_demo else None,
        include_builtin=include_builtin,
        poll_interval=poll_interval,
    )


async def start_agent(settings: Settings, *, prompter: Prompter | None = None) -> RunningAgent:
    """Build the token service and the prompter ``settings`` name, start the agent on them.

    The agent owns the token service: ``await agent.stop()`` closes it, and so does a failed
    start. ``ready_seconds`` counts from here.
    """
    from agent.server.runner import make_services, serve

    started = time.perf_counter()
    tokens = build_token_service(list(settings.pkcs11_modules))
    # The modules load when a page connects or a token is asked for, so an idle headless agent
    # holds no PKCS#11 library (bench/footprint.py); the tray's token menu asks at start.
    await tokens.start(deferred=True)
    try:
        chosen = prompter or make_prompter(
            settings.prompter, timeout_seconds=settings.prompt_timeout_seconds
        )
    except BaseException:
        await tokens.close()
        raise
    services = make_services(tokens, chosen)
    services.browser = open_in_browser  # a remote provider's sign-in page (OAuth2)
    agent = await serve(settings, services=services, owns_tokens=True)
    agent.ready_seconds = time.perf_counter() - started
    return agent
