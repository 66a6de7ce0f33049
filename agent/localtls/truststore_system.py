"""Linux system store (``--machine``): what curl, Python, GNOME apps and most tools trust.

Debian/Ubuntu: a ``.crt`` file in ``/usr/local/share/ca-certificates/`` + ``update-ca-certificates``.
Fedora/RHEL/openSUSE: a file in ``/etc/pki/ca-trust/source/anchors/`` + ``update-ca-trust``.
Chrome/Chromium and Firefox on Linux do NOT read this store: they use NSS (see truststore_nss).
Needs root (run with sudo).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.errors import KysoError
from agent.files import atomic_write
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

ANCHOR_NAME = "kyso-local-ca.crt"
BROWSER_NOTE = (
    "Chrome/Chromium và Firefox trên Linux không đọc kho hệ thống: chạy thêm "
    "'kyso-agent trust install' (không có --machine) cho từng người dùng. / Chrome, Chromium "
    "and Firefox on Linux do not read the system store: also run 'kyso-agent trust install' "
    "(without --machine) for each user."
)


@dataclass(frozen=True)
class SystemLayout:
    """Where one distribution family keeps extra anchors, and the command that rebuilds."""

    anchor_dir: Path
    update_command: tuple[str, ...]

    @property
    def anchor(self) -> Path:
        """Kyso's file in that directory."""
        return self.anchor_dir / ANCHOR_NAME


DEBIAN = SystemLayout(Path("/usr/local/share/ca-certificates"), ("update-ca-certificates",))
FEDORA = SystemLayout(Path("/etc/pki/ca-trust/source/anchors"), ("update-ca-trust", "extract"))


def detect_layout(root: Path = Path("/")) -> SystemLayout:
    """Debian's layout when update-ca-certificates exists, else Fedora's (else Debian's)."""
    if (
        shutil.which("update-ca-certificates")
        or (root / DEBIAN.anchor_dir.relative_to("/")).is_dir()
    ):
        return DEBIAN
    if shutil.which("update-ca-trust"):
        return FEDORA
    return DEBIAN


class LinuxSystemBackend(SingleStoreBackend):
    """The machine-wide anchor file plus the distribution's rebuild command."""

    def __init__(
        self, *, runner: Runner = subprocess_runner, layout: SystemLayout | None = None
    ) -> None:
        """``layout`` defaults to the one detected on this machine (tests pass a temporary one)."""
        self.run = runner
        self.layout = layout or detect_layout()

    def _report(self, action: str, bundle: CaBundle) -> TrustReport:
        report = TrustReport(action, "machine", bundle.common_name, bundle.current_sha256)
        report.notes.append(BROWSER_NOTE)
        return report

    def _state(self, bundle: CaBundle) -> StoreReport:
        anchor = self.layout.anchor
        report = StoreReport(
            "linux-system", "Linux system store", str(anchor), TrustState.NOT_TRUSTED
        )
        try:
            pem = anchor.read_bytes()
        except FileNotFoundError:
            return report
        except OSError as exc:
            report.state, report.detail = TrustState.ERROR, str(exc)
            return report
        try:
            der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        except ValueError:
            report.state, report.detail = TrustState.ERROR, "unreadable anchor file"
            return report
        report.state = TrustState.TRUSTED if der == bundle.current_der else TrustState.OLD_CA
        return report

    def install(self, bundle: CaBundle) -> TrustReport:
        """Write the current CA as Kyso's anchor (replacing an older one) and rebuild."""
        report = self._report("install", bundle)
        before = self._state(bundle)
        if before.state is not TrustState.TRUSTED:
            try:
                # Every user's programs read the system anchors: 0644 whatever root's umask.
                atomic_write(
                    self.layout.anchor,
                    bundle.current_pem_path.read_bytes(),
                    overwrite=True,
                    mode=0o644,
                )
            except PermissionError as exc:
                raise KysoError("TRUST_NEEDS_ADMIN", {"path": str(self.layout.anchor)}) from exc
        report.stores.append(self._rebuild(bundle, changed=before.state is not TrustState.TRUSTED))
        return report

    def remove(self, bundle: CaBundle) -> TrustReport:
        """Delete Kyso's anchor file and rebuild."""
        report = self._report("remove", bundle)
        anchor = self.layout.anchor
        changed = anchor.exists()
        if changed:
            try:
                anchor.unlink()
            except PermissionError as exc:
                raise KysoError("TRUST_NEEDS_ADMIN", {"path": str(anchor)}) from exc
        report.stores.append(self._rebuild(bundle, changed=changed))
        return report

    def _rebuild(self, bundle: CaBundle, *, changed: bool) -> StoreReport:
        if changed:
            result = self.run(list(self.layout.update_command))
            if result.returncode != 0:
                state = self._state(bundle)
                state.state, state.detail = TrustState.ERROR, output_text(result).strip()
                return state
        state = self._state(bundle)
        state.changed = changed
        return state
