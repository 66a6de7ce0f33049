"""macOS: the login keychain (default) or the System keychain (``--machine``, needs sudo),
through the built-in ``security`` tool. Safari and Chrome use the keychain; so does Firefox with
``security.enterprise_roots.enabled`` (the default in current releases)."""

from __future__ import annotations

import re
from pathlib import Path

from agent.localtls.names import CA_NAME_PREFIX
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

SECURITY = "security"
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
_SHA1_LINE = re.compile(r"SHA-1 hash:\s*([0-9A-Fa-f]{40})")


def keychain(home: Path, *, machine: bool) -> str:
    """The keychain file used for this scope."""
    return SYSTEM_KEYCHAIN if machine else str(home / "Library/Keychains/login.keychain-db")


def cmd_add(pem_path: str, chain: str, *, machine: bool) -> list[str]:
    """Add the CA and mark it trusted as a root (``-d``: admin trust settings for the machine)."""
    return [
        SECURITY,
        "add-trusted-cert",
        *(["-d"] if machine else []),
        "-r",
        "trustRoot",
        "-k",
        chain,
        pem_path,
    ]


def cmd_delete(sha1: str, chain: str) -> list[str]:
    """Delete a certificate by SHA-1 hash, with its user trust settings (``-t``)."""
    return [SECURITY, "delete-certificate", "-Z", sha1, "-t", chain]


def cmd_find(chain: str) -> list[str]:
    """List every Kyso CA in the keychain with its SHA-1 hash."""
    return [SECURITY, "find-certificate", "-a", "-Z", "-c", CA_NAME_PREFIX, chain]


def parse_sha1s(output: str) -> set[str]:
    """The ``SHA-1 hash:`` values printed by ``security find-certificate -Z``."""
    return {m.upper() for m in _SHA1_LINE.findall(output)}


class MacBackend(SingleStoreBackend):
    """One keychain."""

    def __init__(
        self, *, machine: bool = False, home: Path, runner: Runner = subprocess_runner
    ) -> None:
        """``machine`` selects the System keychain instead of the user's login keychain."""
        self.machine = machine
        self.chain = keychain(home, machine=machine)
        self.run = runner

    def _found(self) -> tuple[set[str], str]:
        result = self.run(cmd_find(self.chain))
        # Exit status 44 = "not found": an empty keychain for our purposes.
        if result.returncode not in (0, 44):
            return set(), output_text(result).strip() or "security find-certificate failed"
        return parse_sha1s(output_text(result)), ""

    def _state(self, bundle: CaBundle) -> StoreReport:
        store_id = "macos-system" if self.machine else "macos-login"
        label = "macOS System keychain" if self.machine else "macOS login keychain"
        report = StoreReport(store_id, label, self.chain, TrustState.NOT_TRUSTED)
        found, error = self._found()
        if error:
            report.state, report.detail = TrustState.ERROR, error
        elif bundle.current_sha1 in found:
            report.state = TrustState.TRUSTED
        elif found:
            report.state = TrustState.OLD_CA
        return report

    def install(self, bundle: CaBundle) -> TrustReport:
        """Delete older Kyso CAs, add the current one as a trusted root."""
        report = self._report("install", bundle)
        found, _ = self._found()
        changed, error = False, ""
        for sha1 in sorted(found - {bundle.current_sha1}):
            changed |= self.run(cmd_delete(sha1, self.chain)).returncode == 0
        if bundle.current_sha1 not in found:
            result = self.run(
                cmd_add(str(bundle.current_pem_path), self.chain, machine=self.machine)
            )
            changed = True
            if result.returncode != 0:
                error = output_text(result).strip() or "security add-trusted-cert failed"
        state = self._state(bundle)
        state.changed = changed
        if error:
            state.state, state.detail = TrustState.ERROR, error
        report.stores.append(state)
        return report

    def remove(self, bundle: CaBundle) -> TrustReport:
        """Delete every Kyso CA from the keychain."""
        report = self._report("remove", bundle)
        found, _ = self._found()
        changed = False
        # find-certificate lists every "Kyso Local CA…" certificate: current and retired alike.
        for sha1 in sorted(found):
            changed |= self.run(cmd_delete(sha1, self.chain)).returncode == 0
        state = self._state(bundle)
        state.changed = changed
        report.stores.append(state)
        return report
