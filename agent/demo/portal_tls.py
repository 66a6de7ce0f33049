"""HTTPS for the demo portal: a small CA of its own and a certificate for 127.0.0.1.

The portal stub must be served over https (the agent only talks to https origins), so the demo
and the browser tests give it a certificate from a *separate* demo CA — never from the agent's
local CA, whose key is deleted after it issued the agent's one certificate. The demo CA's key is
deleted the same way once the portal certificate exists: nothing else can be minted with it.
Browsers trust the CA the honest way: it is imported into an NSS database with certutil.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from agent.errors import KysoError
from agent.files import atomic_write
from agent.localtls.issue import issue_loopback
from agent.localtls.truststore_nss import CERTUTIL, cmd_add, cmd_create, cmd_delete, cmd_show

CA_NAME = "Kyso Demo Portal CA (chỉ dùng thử / demo only)"
NSS_NICKNAME = "Kyso Demo Portal CA"
_RENEW_BEFORE = dt.timedelta(days=14)


@dataclass(frozen=True)
class PortalTls:
    """Where the portal's certificate, key and the CA to trust live."""

    cert_path: Path
    key_path: Path
    ca_cert_path: Path


def _still_good(paths: PortalTls, now: dt.datetime) -> bool:
    if not all(p.exists() for p in (paths.cert_path, paths.key_path, paths.ca_cert_path)):
        return False
    cert = x509.load_pem_x509_certificate(paths.cert_path.read_bytes())
    return cert.not_valid_after_utc - now > _RENEW_BEFORE


def ensure_portal_certificate(directory: Path, *, days: int = 365) -> PortalTls:
    """Create (or reuse while valid) the demo CA and the portal's server certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = PortalTls(
        directory / "portal.pem", directory / "portal.key", directory / "portal-ca.pem"
    )
    now = dt.datetime.now(dt.UTC)
    if _still_good(paths, now):
        return paths
    # Same recipe as the agent's own local CA (name-constrained to loopback, key never
    # written), under a name the agent's trust commands will never mistake for their own.
    pair = issue_loopback(CA_NAME, "Kyso demo", now, server_validity=dt.timedelta(days=days))
    atomic_write(paths.key_path, pair.server_key_pem, overwrite=True, mode=0o600)
    atomic_write(paths.cert_path, pair.server_cert_pem, overwrite=True)
    atomic_write(paths.ca_cert_path, pair.ca_cert_pem, overwrite=True)
    return paths


def nss_database(home: Path) -> Path:
    """The NSS database Chromium and Chrome read on Linux for a given home directory."""
    return home / ".pki" / "nssdb"


def _run(argv: list[str], *, check: bool = True) -> int:
    if shutil.which(CERTUTIL) is None:
        raise KysoError("TRUST_TOOL_MISSING", {"tool": "certutil (libnss3-tools)"})
    return subprocess.run(argv, check=check, capture_output=True).returncode


def nss_trust_ca(nssdb: Path, ca_pem: Path, nickname: str = NSS_NICKNAME) -> None:
    """Import ``ca_pem`` as a trusted web CA into ``nssdb`` (created when missing)."""
    nssdb.mkdir(parents=True, exist_ok=True)
    if not (nssdb / "cert9.db").exists():
        _run(cmd_create(nssdb))
    # -A with an existing nickname adds a second cert under it; delete first so renewals replace.
    _run(cmd_delete(nssdb, nickname), check=False)
    _run(cmd_add(nssdb, nickname, ca_pem))


def nss_has_ca(nssdb: Path, nickname: str = NSS_NICKNAME) -> bool:
    """True when ``nssdb`` holds a certificate under ``nickname``."""
    if not (nssdb / "cert9.db").exists():
        return False
    return _run(cmd_show(nssdb, nickname), check=False) == 0
