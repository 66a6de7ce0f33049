"""Start the demo portal as its own process, through the portal's own entry point.

The portal (``portal_stub``) uses the agent as a library; the agent never imports the portal,
so it installs and runs without the portal's packages (the ``[portal]`` extra). ``kyso-agent
demo`` runs ``python -m portal_stub.https_server`` (HTTPS with the demo portal CA, the bridge
mounted), waits for its one JSON ready line and stops it with SIGTERM.

``python -m agent.cli.demo_portal ARGS`` is kept for scripts that used it: it becomes the
portal process (exec), with the same arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ERRORS, KysoError

PORTAL_MODULE = "portal_stub.https_server"
READY_TIMEOUT = 60.0  # seconds; a cold start on a slow VM takes a few


@dataclass
class PortalProcess:
    """A started portal process: ``await portal.stop()`` ends it."""

    process: asyncio.subprocess.Process
    url: str
    port: int
    smtp_port: int
    _drain: asyncio.Task[None] | None = field(default=None, repr=False)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the portal closes cleanly), then kill if it does not exit in ``timeout``."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self._drain is not None:
            await self._drain


def portal_argv(
    *,
    tls_dir: Path,
    port: int,
    db: str,
    trust: list[str],
    crls: list[str],
    smtp_sink_port: int,
    process_interval: float,
    debug_hooks: bool = False,
) -> list[str]:
    """The portal's command line (this interpreter, so the same environment)."""
    argv = [sys.executable, "-m", PORTAL_MODULE, "--port", str(port), "--tls-dir", str(tls_dir)]
    argv += ["--db", db, "--smtp-sink-port", str(smtp_sink_port)]
    argv += ["--process-interval", str(process_interval)]
    for path in trust:
        argv += ["--trust", path]
    for path in crls:
        argv += ["--crl", path]
    if debug_hooks:
        argv.append("--debug-hooks")
    return argv


def ready_message(line: bytes, returncode: int | None) -> dict[str, Any]:
    """The portal's ready line as a dict; its error line or silence as a KysoError."""
    if not line.strip():
        detail = (
            f"the portal process exited with status {returncode} (see the messages above)"
            if returncode is not None
            else "the portal process printed no ready line"
        )
        raise KysoError("DEMO_PORTAL_FAILED", {"detail": detail})
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise KysoError("DEMO_PORTAL_FAILED", {"detail": "unreadable ready line"}) from exc
    if not isinstance(message, dict):
        raise KysoError("DEMO_PORTAL_FAILED", {"detail": "unreadable ready line"})
    error = message.get("error")
    if isinstance(error, dict):
        code, details = error.get("code"), error.get("details")
        if isinstance(code, str) and code in ERRORS:
            raise KysoError(code, details if isinstance(details, dict) else {})
        raise KysoError("DEMO_PORTAL_FAILED", {"detail": str(error.get("message_en", code))})
    if not all(k in message for k in ("url", "port", "smtp_port")):
        raise KysoError("DEMO_PORTAL_FAILED", {"detail": "incomplete ready line"})
    return message


async def _copy_output(stream: asyncio.StreamReader) -> None:
    """Pass on whatever the portal prints after its ready line (so its pipe never fills)."""
    while line := await stream.readline():
        sys.stdout.write(line.decode("utf-8", "replace"))
        sys.stdout.flush()


async def start_portal(
    *,
    tls_dir: Path,
    port: int,
    db: str,
    trust: list[str],
    crls: list[str],
    smtp_sink_port: int,
    process_interval: float,
    debug_hooks: bool = False,
) -> PortalProcess:
    """Start the portal process and return once it serves; a failed start is a KysoError (the
    portal's own, e.g. ``PORT_UNAVAILABLE``, or ``DEMO_PORTAL_FAILED``)."""
    argv = portal_argv(
        tls_dir=tls_dir,
        port=port,
        db=db,
        trust=trust,
        crls=crls,
        smtp_sink_port=smtp_sink_port,
        process_interval=process_interval,
        debug_hooks=debug_hooks,
    )
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
        returncode = None
        if not line:
            returncode = await process.wait()
        message = ready_message(line, returncode)
    except BaseException:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        raise
    drain = asyncio.get_running_loop().create_task(_copy_output(process.stdout))
    return PortalProcess(
        process, str(message["url"]), int(message["port"]), int(message["smtp_port"]), drain
    )


def _exec_portal(args: list[str]) -> int:
    """Become the portal process (POSIX), or run it and pass on its status (Windows)."""
    argv = [sys.executable, "-m", PORTAL_MODULE, *args]
    if sys.platform == "win32":
        return subprocess.call(argv)
    os.execv(sys.executable, argv)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(_exec_portal(sys.argv[1:]))
