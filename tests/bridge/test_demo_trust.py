"""Issue 13: the demo's trust step without a terminal prints the exact commands, with this
run's real paths, to trust BOTH local CAs — and the printed commands really work: run as
printed against a temporary home, NSS then trusts the demo portal's certificate and Kyso's
trust status says trusted."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.demo_run import _trust_browsers
from agent.demo.portal_tls import NSS_NICKNAME, ensure_portal_certificate, nss_has_ca
from agent.localtls import default_directory
from agent.localtls.store import ensure_server_certificate
from agent.localtls.truststore import TrustState, run_trust

REPO = Path(__file__).resolve().parents[2]


def _certutil() -> str:
    tool = shutil.which("certutil")
    if tool is None:
        pytest.fail("certutil is missing: install the Debian package libnss3-tools")
    return tool


def _commands(lines: list[str]) -> list[str]:
    """The command lines among what the step printed (indented, starting with a command)."""
    starts = (
        "mkdir ",
        "test -e ",
        "certutil ",
        "KYSO_HOME=",
        "kyso-agent ",
        shlex.quote(sys.executable),
    )
    return [line.strip() for line in lines if line.strip().startswith(starts)]


def test_without_a_terminal_the_step_prints_working_commands_for_both_cas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certutil = _certutil()
    home, kyso_home = tmp_path / "home", tmp_path / "kyso home"  # a space: quoting matters
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KYSO_HOME", str(kyso_home))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal
    ensure_server_certificate(default_directory())  # the agent made its CA at start
    tls = ensure_portal_certificate(kyso_home / "demo" / "portal-tls")
    # A Firefox profile: the portal CA must reach it too.
    firefox = home / ".mozilla" / "firefox" / "abcd.default-release"
    firefox.mkdir(parents=True)
    subprocess.run([certutil, "-N", "--empty-password", "-d", f"sql:{firefox}"], check=True)

    lines = _trust_browsers(tls.ca_cert_path, mode="ask")
    text = "\n".join(lines)
    assert "không có terminal" in text and "no terminal" in text
    assert str(default_directory() / "ca.pem") in text  # which CA, by its real path
    commands = _commands(lines)
    install = [c for c in commands if c.endswith(" trust install")]
    assert len(install) == 1 and f"KYSO_HOME={shlex.quote(str(kyso_home))}" in install[0]
    chromium_db = home / ".pki" / "nssdb"
    adds = [shlex.split(c) for c in commands if c.startswith("certutil -A")]
    assert {a[a.index("-d") + 1] for a in adds} == {f"sql:{chromium_db}", f"sql:{firefox}"}
    assert {a[a.index("-i") + 1] for a in adds} == {str(tls.ca_cert_path.resolve())}
    assert "certutil -user -addstore Root" in text  # what Windows would use

    # Run every printed command as a user would paste it (a shell, this run's environment).
    env = {**os.environ, "HOME": str(home), "PATH": os.environ.get("PATH", "")}
    env.pop("KYSO_HOME")  # the printed command carries it itself
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)

    # NSS itself now validates the demo portal's server certificate in both databases.
    for db in (chromium_db, firefox):
        assert nss_has_ca(db)
        subprocess.run(
            [
                certutil,
                "-A",
                "-d",
                f"sql:{db}",
                "-n",
                "portal",
                "-t",
                ",,",
                "-i",
                str(tls.cert_path),
            ],
            check=True,
        )
        verdict = subprocess.run(
            [certutil, "-V", "-d", f"sql:{db}", "-n", "portal", "-u", "V"],
            capture_output=True,
            text=True,
        )
        assert "certificate is valid" in verdict.stdout, verdict.stdout + verdict.stderr
        listing = subprocess.run(
            [certutil, "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True
        ).stdout
        assert any(NSS_NICKNAME in row and "C,," in row for row in listing.splitlines())
    # And the printed 'trust install' trusted Kyso's own CA.
    status = run_trust("status")
    assert status.stores and all(s.state is TrustState.TRUSTED for s in status.stores)
    assert _trust_browsers(tls.ca_cert_path, mode="ask") == [
        "Trình duyệt đã tin cậy chứng thư của Kyso và của cổng thử nghiệm. / "
        "Browsers already trust both CAs."
    ]


def test_no_trust_prints_only_what_is_still_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _certutil()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KYSO_HOME", str(tmp_path / "kh"))
    ensure_server_certificate(default_directory())
    run_trust("install")  # Kyso's CA already trusted, the portal's not
    tls = ensure_portal_certificate(tmp_path / "kh" / "demo" / "portal-tls")
    text = "\n".join(_trust_browsers(tls.ca_cert_path, mode="never"))
    assert "trust install" not in text and "already trusted" in text
    assert f"-i {shlex.quote(str(tls.ca_cert_path.resolve()))}" in text
