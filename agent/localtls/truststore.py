"""Putting the local CA where browsers look, taking it out again, and saying where it is.

One backend per platform, each built from pure command builders (exact argv lists, tested as
such) plus a runner that executes them. Nothing here ever kills or restarts a browser: when a
running browser must be restarted to see the change, the report says so.

* Linux: the NSS databases of Chromium/Chrome and of every Firefox profile (``certutil``);
  with ``--machine`` the system store (``update-ca-certificates`` / ``update-ca-trust``).
* Windows: the CurrentUser (or, with ``--machine``, LocalMachine) ``Root`` store (``certutil``).
* macOS: the login keychain (or, with ``--machine``, the System keychain) (``security``).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from agent.errors import KysoError
from agent.localtls.plan import Action, decide, inspect_material
from agent.localtls.store import (
    CA_PEM,
    SERVER_KEY,
    SERVER_PEM,
    default_directory,
    ensure_server_certificate,
    load_ca_bundle,
)

# The shared vocabulary lives below the backends; re-exported here for the callers that
# import it from this module (the CLI, the tray, the tests).
from agent.localtls.trustbase import (
    STATE_TEXT,
    Runner,
    SingleStoreBackend,
    StoreReport,
    TrustBackend,
    TrustReport,
    TrustState,
    output_text,
    subprocess_runner,
)

__all__ = [
    "STATE_TEXT",
    "Runner",
    "SingleStoreBackend",
    "StoreReport",
    "TrustBackend",
    "TrustReport",
    "TrustState",
    "backend_for",
    "output_text",
    "run_trust",
    "subprocess_runner",
]


def backend_for(
    platform: str | None = None,
    *,
    machine: bool = False,
    home: Path | None = None,
    runner: Runner = subprocess_runner,
) -> TrustBackend:
    """The backend for ``platform`` (default: this machine's) and scope."""
    platform = platform or sys.platform
    home = home or Path.home()
    if platform.startswith("win"):
        from agent.localtls.truststore_windows import WindowsBackend

        return WindowsBackend(machine=machine, runner=runner)
    if platform == "darwin":
        from agent.localtls.truststore_macos import MacBackend

        return MacBackend(machine=machine, home=home, runner=runner)
    if machine:
        from agent.localtls.truststore_system import LinuxSystemBackend

        return LinuxSystemBackend(runner=runner)
    from agent.localtls.truststore_nss import NssBackend

    return NssBackend(home=home, runner=runner)


def run_trust(
    action: str,
    *,
    directory: Path | None = None,
    machine: bool = False,
    backend: TrustBackend | None = None,
    now: dt.datetime | None = None,
) -> TrustReport:
    """Do ``action`` ("status", "install" or "remove") for the CA in ``directory``.

    ``install`` first makes sure the certificate exists and is fresh (so trust can be set up
    before the agent's first start, and a due renewal happens before trusting, not after).
    ``status`` and ``remove`` never create or renew anything.
    """
    directory = directory or default_directory()
    now = now or dt.datetime.now(dt.UTC)
    backend = backend or backend_for(machine=machine)
    notes: list[str] = []
    if action == "install":
        ensure_server_certificate(directory, now=now)
    elif not (directory / CA_PEM).exists():
        report = TrustReport(action, "machine" if machine else "user", "", "")
        report.notes.append(
            "Chưa có chứng thư CA cục bộ: Kyso tạo khi chạy lần đầu hoặc khi chạy "
            "'kyso-agent trust install'. / No local CA yet: Kyso creates it on first start or "
            "on 'kyso-agent trust install'."
        )
        return report
    else:

        def _read(name: str) -> bytes | None:
            path = directory / name
            return path.read_bytes() if path.exists() else None

        decision = decide(
            inspect_material(_read(CA_PEM), _read(SERVER_PEM), _read(SERVER_KEY), now)
        )
        if decision.action is not Action.USE:
            notes.append(
                "Chứng thư TLS cục bộ sắp hết hạn hoặc cần làm mới ("
                + ", ".join(decision.reasons)
                + "): Kyso sẽ tạo CA mới khi khởi động, sau đó hãy chạy 'kyso-agent trust install'. / "
                "The local TLS certificate is due for renewal: Kyso makes a new CA at its next "
                "start; then run 'kyso-agent trust install'."
            )
    try:
        bundle = load_ca_bundle(directory)
    except ValueError as exc:  # a damaged ca.pem: say what to do, never a traceback
        raise KysoError(
            "TLS_SETUP_FAILED",
            {
                "path": str(directory / CA_PEM),
                "detail": f"damaged file ({exc}); run 'kyso-agent trust install' to replace it",
            },
        ) from exc
    report = getattr(backend, action)(bundle)
    report.notes.extend(notes)
    return report
