"""Windows: the CurrentUser (default) or LocalMachine (``--machine``, needs an administrator)
``Root`` store, through the built-in ``certutil.exe``.

Chrome and Edge use the Windows store; so does Firefox when ``security.enterprise_roots.enabled``
is true (the default in current releases). Adding to the CurrentUser Root store makes Windows
show its own security warning asking the user to confirm: that is expected, and it is the
user's consent to trust the CA.
"""

from __future__ import annotations

from agent.localtls.plan import sha1_hex
from agent.localtls.store import CaBundle
from agent.localtls.trustbase import (
    Runner,
    SingleStoreBackend,
    StoreReport,
    TrustReport,
    TrustState,
    output_text,
    subprocess_runner,
)

CERTUTIL = "certutil"


def _scope(machine: bool) -> list[str]:
    return [] if machine else ["-user"]


def cmd_add(der_path: str, *, machine: bool) -> list[str]:
    """Add the CA (DER .cer file) to the Root store."""
    return [CERTUTIL, *_scope(machine), "-addstore", "Root", der_path]


def cmd_delete(sha1: str, *, machine: bool) -> list[str]:
    """Delete a certificate from the Root store by its SHA-1 thumbprint."""
    return [CERTUTIL, *_scope(machine), "-delstore", "Root", sha1]


def cmd_find(sha1: str, *, machine: bool) -> list[str]:
    """Exit status 0 when a certificate with this thumbprint is in the Root store."""
    return [CERTUTIL, *_scope(machine), "-verifystore", "Root", sha1]


class WindowsBackend(SingleStoreBackend):
    """The Root store of the current user or of the machine."""

    def __init__(self, *, machine: bool = False, runner: Runner = subprocess_runner) -> None:
        """``machine`` selects LocalMachine (administrator) instead of CurrentUser."""
        self.machine = machine
        self.run = runner

    @property
    def _store(self) -> tuple[str, str, str]:
        if self.machine:
            return "windows-machine", "Windows (máy / LocalMachine)", "LocalMachine\\Root"
        return "windows-user", "Windows (người dùng / CurrentUser)", "CurrentUser\\Root"

    def _present(self, sha1: str) -> bool:
        return self.run(cmd_find(sha1, machine=self.machine)).returncode == 0

    def _state(self, bundle: CaBundle) -> StoreReport:
        store_id, label, location = self._store
        report = StoreReport(store_id, label, location, TrustState.NOT_TRUSTED)
        if self._present(bundle.current_sha1):
            report.state = TrustState.TRUSTED
        elif any(self._present(sha1_hex(der)) for der in bundle.retired):
            report.state = TrustState.OLD_CA
        return report

    def install(self, bundle: CaBundle) -> TrustReport:
        """Delete retired Kyso CAs, then add the current one (unless it is already there)."""
        report = self._report("install", bundle)
        changed = self._delete_all(bundle.retired)
        error = ""
        if not self._present(bundle.current_sha1):
            result = self.run(cmd_add(str(bundle.current_der_path), machine=self.machine))
            changed = True
            if result.returncode != 0:
                error = output_text(result).strip() or "certutil -addstore failed (cancelled?)"
        state = self._state(bundle)
        state.changed = changed
        if error:
            state.state, state.detail = TrustState.ERROR, error
        report.stores.append(state)
        report.notes.append(
            "Khởi động lại trình duyệt nếu trang vẫn báo lỗi chứng thư / restart the browser "
            "if a page still reports a certificate error."
        )
        return report

    def remove(self, bundle: CaBundle) -> TrustReport:
        """Delete the current and every retired Kyso CA."""
        report = self._report("remove", bundle)
        changed = self._delete_all((bundle.current_der, *bundle.retired))
        state = self._state(bundle)
        state.changed = changed
        report.stores.append(state)
        return report

    def _delete_all(self, ders: tuple[bytes, ...]) -> bool:
        changed = False
        for der in ders:
            sha1 = sha1_hex(der)
            if self._present(sha1):
                changed |= self.run(cmd_delete(sha1, machine=self.machine)).returncode == 0
        return changed
