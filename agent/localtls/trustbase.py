"""The vocabulary every trust-store backend shares: states, reports, the backend protocol and
the command runner.

It sits below :mod:`agent.localtls.truststore` (which picks a backend) and the backends (which
build and run the commands), so each backend depends on this module only and none on the
module that chooses among them: imports point one way.
"""

from __future__ import annotations

import enum
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from agent.errors import KysoError
from agent.localtls.store import CaBundle

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
