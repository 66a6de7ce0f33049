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
import enum
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.errors import KysoError
from agent.localtls.plan import Action, decide, inspect_material
from agent.localtls.store import (
    CA_PEM,
    SERVER_KEY,
    SERVER_PEM,
    CaBundle,
    default_directory,
    ensure_server_certificate,
    load_ca_bundle,
)

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[bytes]"]


class TrustState(enum.StrEnum):
    """Where a store stands with respect to the current local CA."""

    TRUSTED = "trusted"  # the current CA is there, trusted for TLS servers
    OLD_CA = "old_ca"  # only a previous Kyso CA is there: run `trust install`
    NOT_TRUSTED = "not_trusted"  # no Kyso CA at all
    ERROR = "error"  # the store could not be read or changed (see detail)


STATE_TEXT = {
    TrustState.TRUSTED: "đã tin cậy / trusted",
    TrustState.OLD_CA: "CA cũ — chạy 'kyso-agent trust install' / trusted: old CA; run trust install",
    TrustState.NOT_TRUSTED: "chưa tin cậy / not trusted",
    TrustState.ERROR: "lỗi / error",
}


@dataclass
class StoreReport:
    """One store's state after a status, install or remove."""

    store: str  # stable id: "nss:chromium", "nss:firefox", "linux-system", "windows-user"...
    label: str  # for people: "Firefox (profile abc.default-release)"
    location: str  # the path or store name
    state: TrustState
    changed: bool = False  # install/remove changed something here
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """The --json form."""
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass
class TrustReport:
    """Everything `kyso-agent trust ...` prints."""

    action: str  # "status", "install" or "remove"
    scope: str  # "user" or "machine"
    ca_common_name: str
    ca_sha256: str
    stores: list[StoreReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # restart hints, "Chrome uses NSS", ...

    @property
    def ok(self) -> bool:
        """No store reported an error."""
        return all(s.state is not TrustState.ERROR for s in self.stores)

    def to_json(self) -> dict[str, Any]:
        """The --json form."""
        return {
            "ok": self.ok,
            "action": self.action,
            "scope": self.scope,
            "ca": {"common_name": self.ca_common_name, "sha256": self.ca_sha256},
            "stores": [s.to_json() for s in self.stores],
            "notes": list(self.notes),
        }


class TrustBackend(Protocol):
    """One platform's stores."""

    def status(self, bundle: CaBundle) -> TrustReport:
        """Say, per store, whether the current CA, an old one, or none is trusted."""
        ...

    def install(self, bundle: CaBundle) -> TrustReport:
        """Add the current CA and take out every older Kyso CA."""
        ...

    def remove(self, bundle: CaBundle) -> TrustReport:
        """Take out every Kyso CA (current and older)."""
        ...


class SingleStoreBackend:
    """A platform with one store (a keychain, the Windows Root store, the system anchors): the
    report and the status are the same everywhere; only reading the store differs."""

    machine: bool

    def _state(self, bundle: CaBundle) -> StoreReport:
        raise NotImplementedError

    def _report(self, action: str, bundle: CaBundle) -> TrustReport:
        scope = "machine" if self.machine else "user"
        return TrustReport(action, scope, bundle.common_name, bundle.current_sha256)

    def status(self, bundle: CaBundle) -> TrustReport:
        """Whether the store holds the current CA, only an older Kyso CA, or none."""
        report = self._report("status", bundle)
        report.stores.append(self._state(bundle))
        return report


def subprocess_runner(argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    """Run a command without a shell, capturing its output; a missing tool is a KysoError."""
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise KysoError("TRUST_TOOL_MISSING", {"tool": argv[0]}) from exc
    except subprocess.TimeoutExpired as exc:
        raise KysoError("TRUST_STORE_FAILED", {"detail": f"{argv[0]} did not finish"}) from exc


def output_text(result: subprocess.CompletedProcess[bytes]) -> str:
    """stdout + stderr as text, for parsing and error details."""
    return (result.stdout or b"").decode("utf-8", "replace") + (result.stderr or b"").decode(
        "utf-8", "replace"
    )


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
