"""Processes and browsers for the end-to-end tests: the real agent (``kyso-agent run``), the
portal stub over HTTPS, and Debian's Chromium driven by Playwright with an honest trust setup.

Nothing here weakens TLS: Chromium trusts the portal's demo CA and the agent's local CA because
they are imported into the NSS database of the browser's (temporary) home directory, exactly
what ``kyso-agent trust install`` does for a user. Local Network Access applies because the
portal's port is declared public with ``--ip-address-space-overrides``.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
LOGS = ARTIFACTS / "logs"
CHROMIUM = "/usr/bin/chromium"
PIN_1 = "123456"
PIN_2 = "654321"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, chosen BELOW the kernel's ephemeral range: ports we
    reserve early and bind later (the portal's public port, which Chromium is launched with)
    must not be taken meanwhile by an outgoing connection or a ``bind(0)``."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")


@dataclass
class Process:
    """A child process that prints one JSON line when it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready: dict[str, Any] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> dict[str, Any]:
        """Start and wait for the ready line; fail with the log tail if it never comes."""
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{self.name}.log"
        log = self.log_path.open("ab")
        log.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
        log.flush()
        self.popen = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.PIPE, stderr=log, cwd=REPO
        )
        log.close()
        try:
            return self._read_ready(timeout)
        except BaseException:
            self.stop()  # never leave a child behind when the test run is interrupted
            raise

    def _read_ready(self, timeout: float) -> dict[str, Any]:
        assert self.popen is not None and self.popen.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.popen.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buffer = b""
        while (ready := _json_prefix(buffer)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.popen.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            if selector.select(timeout=min(left, 0.5)):
                chunk = os.read(self.popen.stdout.fileno(), 65536)
                if not chunk and self.popen.poll() is not None:
                    continue
                buffer += chunk
        selector.close()
        self.ready = ready
        return self.ready

    def log_size(self) -> int:
        """Current size of the stderr log (an offset for :meth:`wait_log`)."""
        return self.log_path.stat().st_size

    def wait_log(self, text: str, since: int, timeout: float = 20.0) -> None:
        """Wait until ``text`` appears in the log after byte offset ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(since)
                if text.encode() in log.read():
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never logged {text!r}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The end of the process's stderr log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGINT (clean shutdown), then SIGKILL if it hangs."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
        if self.popen.stdout:
            self.popen.stdout.close()


def _json_prefix(buffer: bytes) -> dict[str, Any] | None:
    """The first complete JSON object in ``buffer`` (one line or pretty-printed), if any."""
    text = buffer.decode(errors="replace").lstrip()
    if not text.startswith("{"):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def python_env(kyso_home: Path, **extra: str) -> dict[str, str]:
    """Environment of a Kyso child process: the test's state root and demo tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["KYSO_HOME"] = str(kyso_home)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def agent_process(
    kyso_home: Path,
    answers: Path,
    *,
    port: int,
    allow_origins: list[str],
    ping_port: int = 0,
    name: str = "agent",
    prompter: str | None = None,
    env: dict[str, str] | None = None,
) -> Process:
    """``kyso-agent run`` on ``port`` (kept across restarts, as the real default port is) with
    the scripted prompter reading ``answers`` (or ``prompter``, e.g. ``dialog`` with ``env``
    naming its X display); the plain-http ping on ``ping_port`` (0: off)."""
    argv = [
        sys.executable,
        "-m",
        "agent.cli.main",
        "run",
        "--headless",
        "--port",
        str(port),
        "--ping-port",
        str(ping_port),
        "--json",
        "--prompter",
        prompter or f"scripted:{answers}",
    ]
    for origin in allow_origins:
        argv += ["--allow-origin", origin]
    return Process(name, argv, python_env(kyso_home, **(env or {})))


def portal_process(
    kyso_home: Path, tls_dir: Path, port: int, *, ping_port: int, name: str = "portal"
) -> Process:
    """The portal stub over HTTPS on ``port`` with a fresh in-memory database; its CSP lets the
    page ping the test agent's ``ping_port`` (see tests/browser/portal_main.py)."""
    argv = [
        sys.executable,
        "-m",
        "tests.browser.portal_main",
        "--agent-ping-port",
        str(ping_port),
        "--port",
        str(port),
        "--tls-dir",
        str(tls_dir),
        "--db",
        ":memory:",
        "--debug-hooks",
    ]
    return Process(name, argv, python_env(kyso_home))


def trust_agent_ca(kyso_home: Path, browser_home: Path) -> None:
    """Run the real ``kyso-agent trust install`` for the browser's home directory."""
    env = python_env(kyso_home, HOME=str(browser_home))
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.main", "trust", "install", "--json"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def write_answers(path: Path, **answers: Any) -> None:
    """The scripted prompter's answers (default: allow everything, PIN of token 1)."""
    data = {"pair": "always", "consent": "allow", "pin": PIN_1, **answers}
    path.write_text(json.dumps(data), encoding="utf-8")


def launch_chromium(playwright: Any, home: Path, public_ports: list[int]) -> Any:
    """Debian's Chromium with ``home`` as $HOME (its NSS database) and the portal ports public."""
    overrides = ",".join(f"127.0.0.1:{p}=public" for p in public_ports)
    env = {**os.environ, "HOME": str(home)}
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, "--lang=vi", f"--ip-address-space-overrides={overrides}"],
        env=env,
    )


def chromium_home(root: Path, portal_ca: Path) -> Path:
    """A fresh $HOME for Chromium whose NSS database trusts only the portal's demo CA."""
    from agent.demo.portal_tls import nss_database, nss_trust_ca

    home = root
    home.mkdir(parents=True, exist_ok=True)
    nss_trust_ca(nss_database(home), portal_ca)
    return home


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot (whole page, or what is on screen) under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
