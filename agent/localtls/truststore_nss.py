"""Linux browsers: the NSS databases of Chromium/Chrome and of every Firefox profile (certutil).

Chromium and Google Chrome on Linux read the user's NSS database ``~/.pki/nssdb`` (not the
system store); Firefox keeps one database per profile. Snap and Flatpak builds keep theirs
inside their own sandboxed home. A running browser is never touched: we only look, read-only,
at ``/proc`` to say which one must be restarted.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.localtls.names import CA_NAME_PREFIX
from agent.localtls.store import CaBundle
from agent.localtls.trustbase import (
    Runner,
    StoreReport,
    TrustReport,
    TrustState,
    output_text,
    subprocess_runner,
)

CERTUTIL = "certutil"
TRUST_FLAGS = "C,,"  # a CA trusted to issue TLS server certificates, nothing else

# Where Chromium-family browsers keep their NSS database, relative to $HOME.
CHROMIUM_DBS = (
    ("Chromium / Google Chrome", ".pki/nssdb", None),
    ("Chromium (snap)", "snap/chromium/current/.pki/nssdb", "snap/chromium"),
    (
        "Chromium (Flatpak)",
        ".var/app/org.chromium.Chromium/.pki/nssdb",
        ".var/app/org.chromium.Chromium",
    ),
    (
        "Google Chrome (Flatpak)",
        ".var/app/com.google.Chrome/.pki/nssdb",
        ".var/app/com.google.Chrome",
    ),
)
# Where Firefox keeps its profiles (each has a cert9.db), relative to $HOME.
FIREFOX_ROOTS = (
    ("Firefox", ".mozilla/firefox"),
    ("Firefox (snap)", "snap/firefox/common/.mozilla/firefox"),
    ("Firefox (Flatpak)", ".var/app/org.mozilla.firefox/.mozilla/firefox"),
)
# Process names (/proc/PID/comm, at most 15 characters) of the browsers we may ask to restart.
BROWSER_PROCESSES = {
    "firefox": "Firefox",
    "firefox-esr": "Firefox",
    "firefox-bin": "Firefox",
    "chromium": "Chromium",
    "chromium-browse": "Chromium",
    "chrome": "Google Chrome",
}


@dataclass(frozen=True)
class NssDb:
    """One NSS database a browser reads."""

    browser: str  # "Chromium" or "Firefox": what must be restarted
    label: str
    path: Path

    @property
    def store_id(self) -> str:
        """Stable id for reports."""
        return "nss:" + self.browser.lower().split()[0]

    @property
    def exists(self) -> bool:
        """True when the database files are there."""
        return (self.path / "cert9.db").exists()


# --- pure command builders ------------------------------------------------------------------


def db_arg(path: Path) -> str:
    """certutil's name for a SQLite (cert9.db) database."""
    return f"sql:{path}"


def cmd_create(db: Path) -> list[str]:
    """Create an empty database with no password (what Chromium itself would create)."""
    return [CERTUTIL, "-N", "--empty-password", "-d", db_arg(db)]


def cmd_list(db: Path) -> list[str]:
    """List nicknames and trust flags."""
    return [CERTUTIL, "-L", "-d", db_arg(db)]


def cmd_show(db: Path, nickname: str) -> list[str]:
    """Print every certificate under a nickname, as PEM."""
    return [CERTUTIL, "-L", "-d", db_arg(db), "-n", nickname, "-a"]


def cmd_add(db: Path, nickname: str, ca_pem: Path) -> list[str]:
    """Add the CA, trusted for TLS servers only."""
    return [CERTUTIL, "-A", "-d", db_arg(db), "-n", nickname, "-t", TRUST_FLAGS, "-i", str(ca_pem)]


def cmd_delete(db: Path, nickname: str) -> list[str]:
    """Delete one certificate with this nickname."""
    return [CERTUTIL, "-D", "-d", db_arg(db), "-n", nickname]


def nickname_for(bundle: CaBundle) -> str:
    """Unique per CA (two CAs made the same day still differ)."""
    return f"{bundle.common_name} {bundle.current_sha256[:8]}"


def parse_list(output: str) -> list[tuple[str, str]]:
    """``certutil -L`` output -> [(nickname, trust flags)]. Nicknames may contain spaces."""
    rows = []
    for line in output.splitlines():
        stripped = line.rstrip()
        if not stripped or stripped.startswith(("Certificate Nickname", " ")):
            continue
        nickname, _, flags = stripped.rpartition(" ")
        if nickname.strip() and "," in flags:
            rows.append((nickname.strip(), flags))
    return rows


# --- discovery (read-only file system) ------------------------------------------------------


def discover(home: Path) -> list[NssDb]:
    """Every NSS database a browser of this user reads: Chromium's (even if not created yet)
    and those of every Firefox profile found (profiles.ini included, for profiles elsewhere)."""
    dbs: list[NssDb] = []
    for label, rel, marker in CHROMIUM_DBS:
        if marker is None or (home / marker).is_dir():
            # Missing databases of an installed Chromium are created on install, as the
            # browser itself would at its first start.
            dbs.append(NssDb("Chromium", label, home / rel))
    for label, rel in FIREFOX_ROOTS:
        root = home / rel
        if not root.is_dir():
            continue
        profiles = {p for p in root.iterdir() if (p / "cert9.db").exists()}
        profiles |= _profiles_from_ini(root)
        for profile in sorted(profiles):
            if (profile / "cert9.db").exists():
                dbs.append(NssDb("Firefox", f"{label} ({profile.name})", profile))
    return dbs


def _profiles_from_ini(root: Path) -> set[Path]:
    ini = root / "profiles.ini"
    if not ini.is_file():
        return set()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return set()
    found: set[Path] = set()
    for section in parser.sections():
        path = parser.get(section, "Path", fallback=None)
        if path:
            relative = parser.get(section, "IsRelative", fallback="1") == "1"
            found.add((root / path) if relative else Path(path))
    return found


def running_browsers(proc: Path = Path("/proc"), uid: int | None = None) -> set[str]:
    """Browsers this user has running (read-only look at /proc; nothing is signalled)."""
    uid = os.getuid() if uid is None else uid
    found: set[str] = set()
    try:
        entries = list(proc.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in BROWSER_PROCESSES:
            found.add(BROWSER_PROCESSES[name])
    return found


# --- the backend ----------------------------------------------------------------------------


class NssBackend:
    """The user's browsers on Linux."""

    def __init__(
        self, *, home: Path, runner: Runner = subprocess_runner, proc: Path = Path("/proc")
    ) -> None:
        """``home`` is the user's home directory; ``proc`` is read to find running browsers."""
        self.home = home
        self.run = runner
        self.proc = proc

    def _kyso_entries(self, db: Path) -> tuple[list[tuple[str, str, bytes]], str | None]:
        """[(nickname, flags, der)] of every Kyso CA in ``db``; or an error text."""
        result = self.run(cmd_list(db))
        if result.returncode != 0:
            return [], output_text(result).strip() or "certutil -L failed"
        entries = []
        for nickname, flags in parse_list(output_text(result)):
            if not nickname.startswith(CA_NAME_PREFIX):
                continue
            shown = self.run(cmd_show(db, nickname))
            try:
                certs = x509.load_pem_x509_certificates(shown.stdout or b"")
            except ValueError:
                certs = []
            entries += [
                (nickname, flags, c.public_bytes(serialization.Encoding.DER)) for c in certs
            ]
        return entries, None

    def _state(self, db: NssDb, bundle: CaBundle) -> StoreReport:
        report = StoreReport(db.store_id, db.label, str(db.path), TrustState.NOT_TRUSTED)
        if not db.exists:
            report.detail = "database not created yet"
            return report
        entries, error = self._kyso_entries(db.path)
        if error:
            report.state, report.detail = TrustState.ERROR, error
        elif any(
            der == bundle.current_der and "C" in flags.split(",")[0] for _, flags, der in entries
        ):
            report.state = TrustState.TRUSTED
        elif entries:
            report.state = TrustState.OLD_CA
        return report

    def _report(self, action: str, bundle: CaBundle) -> TrustReport:
        return TrustReport(action, "user", bundle.common_name, bundle.current_sha256)

    def status(self, bundle: CaBundle) -> TrustReport:
        """Per database: trusted / old CA / not trusted."""
        report = self._report("status", bundle)
        report.stores = [self._state(db, bundle) for db in discover(self.home)]
        if not any(s.store == "nss:firefox" for s in report.stores):
            report.notes.append("Không thấy hồ sơ Firefox nào / no Firefox profile found.")
        return report

    def install(self, bundle: CaBundle) -> TrustReport:
        """Add the CA to every database (creating Chromium's if needed), remove older Kyso CAs."""
        report = self._report("install", bundle)
        for db in discover(self.home):
            report.stores.append(self._change(db, bundle, install=True))
        self._restart_notes(report)
        return report

    def remove(self, bundle: CaBundle) -> TrustReport:
        """Remove every Kyso CA from every database."""
        report = self._report("remove", bundle)
        for db in discover(self.home):
            if db.exists:
                report.stores.append(self._change(db, bundle, install=False))
        self._restart_notes(report)
        return report

    def _change(self, db: NssDb, bundle: CaBundle, *, install: bool) -> StoreReport:
        changed = False
        if install and not db.exists:
            db.path.mkdir(parents=True, exist_ok=True)
            created = self.run(cmd_create(db.path))
            if created.returncode != 0:
                return StoreReport(
                    db.store_id,
                    db.label,
                    str(db.path),
                    TrustState.ERROR,
                    detail=output_text(created).strip(),
                )
            changed = True
        entries, error = self._kyso_entries(db.path)
        if error:
            return StoreReport(db.store_id, db.label, str(db.path), TrustState.ERROR, detail=error)
        keep = nickname_for(bundle) if install else None
        for nickname, _flags, der in entries:
            if install and der == bundle.current_der and nickname == keep:
                continue
            if self.run(cmd_delete(db.path, nickname)).returncode == 0:
                changed = True
        if install:
            state_now = self._state(db, bundle)
            if state_now.state is not TrustState.TRUSTED:
                added = self.run(cmd_add(db.path, nickname_for(bundle), bundle.current_pem_path))
                if added.returncode != 0:
                    return StoreReport(
                        db.store_id,
                        db.label,
                        str(db.path),
                        TrustState.ERROR,
                        changed,
                        output_text(added).strip(),
                    )
                changed = True
        final = self._state(db, bundle)
        final.changed = changed
        return final

    def _restart_notes(self, report: TrustReport) -> None:
        touched = {s.store for s in report.stores if s.changed}
        running = running_browsers(self.proc)
        for browser in sorted(running):
            if "nss:" + browser.lower().split()[0] in touched or (
                browser == "Google Chrome" and "nss:chromium" in touched
            ):
                report.notes.append(
                    f"{browser} đang chạy: hãy tự khởi động lại để nhận chứng thư / "
                    f"{browser} is running: restart it to pick up the certificate "
                    "(Kyso never closes your browser)."
                )
