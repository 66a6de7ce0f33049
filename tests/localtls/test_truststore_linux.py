"""Trusting the local CA in real NSS databases (certutil), in a temporary home directory."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.localtls import ensure_server_certificate, load_ca_bundle
from agent.localtls.truststore import TrustState, run_trust
from agent.localtls.truststore_nss import NssBackend, discover, parse_list


@pytest.fixture(scope="module")
def certutil() -> str:
    path = shutil.which("certutil")
    if path is None:
        pytest.fail("certutil is missing: install the Debian package libnss3-tools")
    return path


def _nss_entries(certutil: str, db: Path) -> dict[str, str]:
    out = subprocess.run(
        [certutil, "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True
    )
    return dict(parse_list(out.stdout))


def _make_home(tmp_path: Path, certutil: str) -> tuple[Path, Path, Path]:
    """A home with one normal Firefox profile and one listed by absolute path in profiles.ini."""
    home = tmp_path / "home"
    root = home / ".mozilla" / "firefox"
    profile = root / "ab12cd34.default-release"
    elsewhere = tmp_path / "data-disk" / "firefox-work"
    for db in (profile, elsewhere):
        db.mkdir(parents=True)
        subprocess.run([certutil, "-N", "--empty-password", "-d", f"sql:{db}"], check=True)
    (root / "profiles.ini").write_text(
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=ab12cd34.default-release\n\n"
        f"[Profile1]\nName=work\nIsRelative=0\nPath={elsewhere}\n"
    )
    (root / "no-db-here").mkdir()  # a directory without cert9.db is not a profile
    return home, profile, elsewhere


def _fake_proc(tmp_path: Path, *names: str) -> Path:
    proc = tmp_path / "proc"
    for pid, name in enumerate(names, start=100):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(name + "\n")
    proc.mkdir(exist_ok=True)
    return proc


def test_install_status_renew_remove_in_real_nss_databases(tmp_path: Path, certutil: str) -> None:
    home, profile, elsewhere = _make_home(tmp_path, certutil)
    tls = tmp_path / "tls"
    now = dt.datetime.now(dt.UTC)
    first = ensure_server_certificate(tls, now=now)
    proc = _fake_proc(tmp_path, "firefox-esr", "bash")
    backend = NssBackend(home=home, proc=proc)
    assert {db.label for db in discover(home)} == {
        "Chromium / Google Chrome",
        "Firefox (ab12cd34.default-release)",
        "Firefox (firefox-work)",
    }

    before = run_trust("status", directory=tls, backend=backend)
    assert {s.state for s in before.stores} == {TrustState.NOT_TRUSTED}

    installed = run_trust("install", directory=tls, backend=backend)
    assert installed.ok and all(s.changed for s in installed.stores)
    chromium_db = home / ".pki" / "nssdb"
    for db in (chromium_db, profile, elsewhere):
        entries = _nss_entries(certutil, db)
        assert list(entries.values()) == ["C,,"], entries
        assert next(iter(entries)).startswith(first.ca_common_name)
    # Firefox is running: say so, never touch it. Chromium is not running: no note.
    assert any("Firefox is running: restart it" in n for n in installed.notes)
    assert not any("Chromium is running" in n for n in installed.notes)
    assert (proc / "100").exists()

    after = run_trust("status", directory=tls, backend=backend)
    assert {s.state for s in after.stores} == {TrustState.TRUSTED}
    # Installing again changes nothing.
    again = run_trust("install", directory=tls, backend=backend)
    assert not any(s.changed for s in again.stores)

    # Renewal: a new CA. Until `trust install` runs again, the stores hold the old CA.
    later = now + dt.timedelta(days=340)
    renewed = ensure_server_certificate(tls, now=later)
    assert renewed.needs_retrust
    stale = run_trust("status", directory=tls, backend=backend, now=later)
    assert {s.state for s in stale.stores} == {TrustState.OLD_CA}
    run_trust("install", directory=tls, backend=backend, now=later)
    for db in (chromium_db, profile, elsewhere):
        entries = _nss_entries(certutil, db)
        assert len(entries) == 1 and next(iter(entries)).startswith(renewed.ca_common_name)
        assert renewed.ca_sha256[:8] in next(iter(entries))
    assert len(load_ca_bundle(tls).retired) == 1

    removed = run_trust("remove", directory=tls, backend=backend)
    assert {s.state for s in removed.stores} == {TrustState.NOT_TRUSTED}
    for db in (chromium_db, profile, elsewhere):
        assert _nss_entries(certutil, db) == {}


def test_other_certificates_in_the_database_are_left_alone(tmp_path: Path, certutil: str) -> None:
    home, profile, _ = _make_home(tmp_path, certutil)
    other = tmp_path / "other-tls"
    ensure_server_certificate(other)
    # Someone else's CA (here: another Kyso install's CA under a foreign name) stays put.
    subprocess.run(
        [
            certutil,
            "-A",
            "-d",
            f"sql:{profile}",
            "-n",
            "Công ty CA nội bộ",
            "-t",
            "C,,",
            "-i",
            str(other / "ca.pem"),
        ],
        check=True,
    )
    tls = tmp_path / "tls"
    backend = NssBackend(home=home, proc=_fake_proc(tmp_path))
    run_trust("install", directory=tls, backend=backend)
    run_trust("remove", directory=tls, backend=backend)
    assert list(_nss_entries(certutil, profile)) == ["Công ty CA nội bộ"]


def test_cli_trust_commands(tmp_path: Path, certutil: str, monkeypatch, capsys) -> None:
    home, _, _ = _make_home(tmp_path, certutil)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KYSO_HOME", str(tmp_path / "kyso"))
    assert main(["trust", "status", "--json"]) == 1  # no CA yet
    assert "No local CA yet" in capsys.readouterr().out
    assert main(["trust", "install"]) == 0
    out = capsys.readouterr().out
    assert (
        "Kyso Local CA" in out and "trusted" in out and "Firefox (ab12cd34.default-release)" in out
    )
    assert main(["trust", "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and {s["state"] for s in data["stores"]} == {"trusted"}
    assert (tmp_path / "kyso" / "data" / "tls" / "ca.pem").exists()
    assert main(["trust", "remove", "--json"]) == 0
    assert {s["state"] for s in json.loads(capsys.readouterr().out)["stores"]} == {"not_trusted"}
    assert main(["trust", "status"]) == 1
