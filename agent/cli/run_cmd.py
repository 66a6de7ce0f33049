"""``kyso-agent run``: start the local signing agent and serve until Ctrl+C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from agent.cli.output import print_json

HELP = """\
Start the agent: HTTPS + WSS on 127.0.0.1 and ::1 only, port 27443 (then 27444, 27445).
Pages connect to wss://127.0.0.1:PORT/v1/ws. A plain-http GET /v1/ping on port 27442 (answer:
an empty 204, nothing else) lets pages tell "Kyso is not running" from "certificate not
trusted". The settings come from config.toml, this command line, and the managed policy (which
wins); 'kyso-agent doctor' shows where each came from.

examples:
  kyso-agent run                                   dialogs ask the user
  kyso-agent run --prompter terminal               questions and PIN in this terminal
  kyso-agent run --allow-origin https://portal.example.vn
  kyso-agent run --headless --prompter scripted:/etc/kyso/answers.json   unattended (careful!)
"""


def register(sub: Any) -> None:
    """Add ``run``."""
    p = sub.add_parser(
        "run",
        help="start the local signing agent",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--headless", action="store_true", help="no tray icon (servers, tests)")
    p.add_argument(
        "--port", type=int, metavar="N", help="listen on this port only (0: any free port)"
    )
    p.add_argument(
        "--ping-port",
        type=int,
        metavar="N",
        help="plain-http /v1/ping port (default 27442; 0: off)",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this https origin without asking (repeatable)",
    )
    p.add_argument(
        "--prompter",
        metavar="KIND",
        help="dialog | terminal | scripted:FILE (answers read from a local JSON file)",
    )
    p.add_argument(
        "--module", action="append", default=[], metavar="PATH", help="extra PKCS#11 module"
    )
    p.add_argument("--json", action="store_true", help="print the ready line as JSON")
    p.set_defaults(func=run_agent)


def command_line_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line layer of the settings (only what was given)."""
    layer: dict[str, Any] = {}
    if args.port is not None:
        layer["port"] = args.port
    if args.ping_port is not None:
        layer["ping_port"] = args.ping_port
    if args.allow_origin:
        layer["allowed_origins"] = list(args.allow_origin)
    if args.prompter:
        layer["prompter"] = args.prompter
    if args.module:
        layer["pkcs11_modules"] = list(args.module)
    return layer


def _answers_problem(prompter: str) -> str | None:
    """For a scripted prompter, why its answers file cannot be used yet (else None)."""
    if not prompter.startswith("scripted:"):
        return None
    from agent.ui.scripted import answers_problem

    return answers_problem(prompter[len("scripted:") :])


async def run_agent(args: argparse.Namespace) -> int:
    """Load settings, start the agent, wait for a signal, stop cleanly."""
    from agent.cli.compose import start_agent
    from agent.config.policy import load_settings

    logging.getLogger("agent").setLevel(logging.INFO if not args.verbose else logging.DEBUG)
    settings = load_settings(command_line_settings(args))
    agent = await start_agent(settings)
    ready = {
        "url": agent.url,
        "info": agent.info_url,
        "port": agent.port,
        "ping_port": agent.ping_port,
        "hosts": list(agent.hosts),
        "scripted_prompter": settings.scripted_prompter,
        "ready_seconds": round(agent.ready_seconds, 3),
    }
    unusable = _answers_problem(settings.prompter)
    if unusable is not None:
        ready["scripted_answers_problem"] = unusable
    if args.json:
        print_json(ready)
    else:
        print(f"Kyso đang chạy / running: {agent.url}  (Ctrl+C để dừng / to stop)", flush=True)
        if settings.scripted_prompter:
            print(
                "!!! SCRIPTED PROMPTER: không hỏi người dùng / nobody is asked before signing !!!",
                flush=True,
            )
        if unusable is not None:
            print(
                f"!!! Tệp trả lời {settings.prompter[len('scripted:') :]} chưa dùng được "
                f"({unusable}): mọi yêu cầu ký đều bị từ chối cho đến khi sửa tệp / the answers "
                f"file cannot be used ({unusable}): every request is refused until it is fixed",
                flush=True,
            )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still raises
            loop.add_signal_handler(sig, stop.set)
    tray = None
    if not args.headless:
        try:
            from agent.cli.filesign_cmd import desktop_hooks
            from agent.ui.tray import attach_tray

            tray = await attach_tray(agent, stop.set, desktop_hooks(agent, settings))
        except Exception:  # no tray is not fatal: the agent works headless
            logging.getLogger(__name__).warning("tray unavailable; running headless", exc_info=True)
    try:
        await stop.wait()
    finally:
        if tray is not None:
            from agent.ui.tray import detach_tray

            detach_tray(tray)
        await agent.stop()
    return 0
