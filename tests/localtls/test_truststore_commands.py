"""Windows, macOS and the Linux system store: the exact commands they run, with a recording runner."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from agent.errors import KysoError
from agent.localtls import ensure_server_certificate, load_ca_bundle
from agent.localtls.plan import sha1_hex
from agent.localtls.truststore import TrustState, backend_for, run_trust
from agent.localtls.truststore_macos import MacBackend
from agent.localtls.truststore_nss import NssBackend
from agent.localtls.truststore_system import LinuxSystemBackend, SystemLayout
from agent.localtls.truststore_windows import WindowsBackend


class Recorder:
    """Stands in for subprocess.run: records argv, answers with ``respond(argv)``."""

    def __init__(self, respond: Callable[[list[str]], tuple[int, str]]) -> None:
        self.calls: list[list[str]] = []
        self.respond = respond

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        argv = list(argv)
        self.calls.append(argv)
        code, out = self.respond(argv)
        return subprocess.CompletedProcess(argv, code, out.encode(), b"")


@pytest.fixture
def renewed_tls(tmp_path: Path) -> tuple[Path, str, str]:
    """A CA that replaced an older one: (directory, old SHA-1, new SHA-1)."""
    now = dt.datetime.now(dt.UTC)
    old = ensure_server_certificate(tmp_path, now=now - dt.timedelta(days=340))
    new = ensure_server_certificate(tmp_path, now=now)
    return tmp_path, old.ca_sha1, new.ca_sha1


def test_backend_selection() -> None:
    assert isinstance(backend_for("win32"), WindowsBackend)
    assert isinstance(backend_for("darwin", machine=True), MacBackend)
    assert isinstance(backend_for("linux", machine=True), LinuxSystemBackend)
    assert isinstance(backend_for("linux"), NssBackend)


@pytest.mark.parametrize("machine", [False, True])
def test_windows_install_replaces_the_old_ca(renewed_tls, machine: bool) -> None:
    tls, old, new = renewed_tls
    store = {old}  # the Root store holds the old Kyso CA

    def respond(argv: list[str]) -> tuple[int, str]:
        verb, target = argv[-3], argv[-1]
        if verb == "-verifystore":
            return (0 if target in store else 1), ""
        if verb == "-delstore":
            store.discard(target)
        if verb == "-addstore":
            store.add(new)
        return 0, ""

    runner = Recorder(respond)
    backend = WindowsBackend(machine=machine, runner=runner)
    assert run_trust("status", directory=tls, backend=backend).stores[0].state is TrustState.OLD_CA
    runner.calls.clear()
    report = run_trust("install", directory=tls, backend=backend)
    scope = [] if machine else ["-user"]
    assert runner.calls[:4] == [
        ["certutil", *scope, "-verifystore", "Root", old],
        ["certutil", *scope, "-delstore", "Root", old],
        ["certutil", *scope, "-verifystore", "Root", new],
        ["certutil", *scope, "-addstore", "Root", str(tls / "ca.cer")],
    ]
    assert report.stores[0].state is TrustState.TRUSTED and report.stores[0].changed
    assert report.stores[0].store == ("windows-machine" if machine else "windows-user")
    assert (tls / "ca.cer").read_bytes() == load_ca_bundle(tls).current_der
    runner.calls.clear()
    run_trust("remove", directory=tls, backend=backend)
    assert ["certutil", *scope, "-delstore", "Root", new] in runner.calls
    assert store == set()


def test_windows_user_refusing_the_system_prompt_is_an_error(renewed_tls) -> None:
    tls, _, _ = renewed_tls
    runner = Recorder(
        lambda argv: (1, "") if "-verifystore" in argv else (-2147023673, "cancelled by the user")
    )
    report = run_trust("install", directory=tls, backend=WindowsBackend(runner=runner))
    assert not report.ok and "cancelled" in report.stores[0].detail


@pytest.mark.parametrize("machine", [False, True])
def test_macos_install_and_remove(renewed_tls, tmp_path: Path, machine: bool) -> None:
    tls, old, new = renewed_tls
    chain = (
        "/Library/Keychains/System.keychain"
        if machine
        else f"{tmp_path}/Library/Keychains/login.keychain-db"
    )
    keychain = {old}

    def respond(argv: list[str]) -> tuple[int, str]:
        if argv[1] == "find-certificate":
            if not keychain:
                return (
                    44,
                    "security: SecKeychainSearchCopyNext: The specified item could not be found.",
                )
            return 0, "".join(f'SHA-1 hash: {h}\nkeychain: "{chain}"\n' for h in sorted(keychain))
        if argv[1] == "delete-certificate":
            keychain.discard(argv[3])
        if argv[1] == "add-trusted-cert":
            keychain.add(new)
        return 0, ""

    runner = Recorder(respond)
    backend = MacBackend(machine=machine, home=tmp_path, runner=runner)
    assert run_trust("status", directory=tls, backend=backend).stores[0].state is TrustState.OLD_CA
    runner.calls.clear()
    report = run_trust("install", directory=tls, backend=backend)
    find = ["security", "find-certificate", "-a", "-Z", "-c", "Kyso Local CA", chain]
    add = [
        "security",
        "add-trusted-cert",
        *(["-d"] if machine else []),
        "-r",
        "trustRoot",
        "-k",
        chain,
        str(tls / "ca.pem"),
    ]
    assert runner.calls[:3] == [
        find,
        ["security", "delete-certificate", "-Z", old, "-t", chain],
        add,
    ]
    assert report.stores[0].state is TrustState.TRUSTED
    runner.calls.clear()
    report = run_trust("remove", directory=tls, backend=backend)
    assert runner.calls[1] == ["security", "delete-certificate", "-Z", new, "-t", chain]
    assert report.stores[0].state is TrustState.NOT_TRUSTED


def test_linux_system_store_writes_the_anchor_and_rebuilds(renewed_tls, tmp_path: Path) -> None:
    tls, _, new = renewed_tls
    layout = SystemLayout(tmp_path / "ca-certificates", ("update-ca-certificates",))
    runner = Recorder(lambda argv: (0, "1 added, 0 removed; done."))
    backend = LinuxSystemBackend(runner=runner, layout=layout)
    report = run_trust("install", directory=tls, backend=backend)
    anchor = layout.anchor_dir / "kyso-local-ca.crt"
    assert anchor.read_bytes() == (tls / "ca.pem").read_bytes()
    assert runner.calls == [["update-ca-certificates"]]
    assert report.stores[0].state is TrustState.TRUSTED
    assert any("do not read the system store" in n for n in report.notes)
    assert sha1_hex(load_ca_bundle(tls).current_der) == new
    # An anchor holding another (older) CA is reported as such.
    anchor.write_bytes(next((tls / "retired").glob("*.pem")).read_bytes())
    assert run_trust("status", directory=tls, backend=backend).stores[0].state is TrustState.OLD_CA
    runner.calls.clear()
    run_trust("remove", directory=tls, backend=backend)
    assert not anchor.exists() and runner.calls == [["update-ca-certificates"]]


def test_a_damaged_ca_file_is_a_clear_error_and_install_repairs_it(renewed_tls) -> None:
    tls, _, _ = renewed_tls
    (tls / "ca.pem").write_text("not a certificate")
    runner = Recorder(lambda argv: (1, ""))
    backend = WindowsBackend(runner=runner)
    with pytest.raises(KysoError) as info:
        run_trust("status", directory=tls, backend=backend)
    assert info.value.code == "TLS_SETUP_FAILED" and "trust install" in info.value.message_en
    run_trust("install", directory=tls, backend=backend)  # mints a fresh CA, then trusts it
    assert load_ca_bundle(tls).current_der == (tls / "ca.cer").read_bytes()
