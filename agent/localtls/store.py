"""The local TLS files on disk: create, check, renew, and the SSL context the server uses.

Layout of the ``tls`` directory (normally ``agent.config.paths.data_dir() / "tls"``)::

    ca.pem        the per-install CA certificate (what browsers are told to trust)
    ca.cer        the same in DER, for Windows' certutil
    server.pem    the loopback server certificate
    server.key    its private key (mode 0600)
    retired/      CA certificates replaced by a renewal, so `trust install` can take them out
    .lock         serialises two processes (agent start and `trust install`) on the same files

There is never a CA private key here: it only exists in memory while the server certificate is
signed (see :mod:`agent.localtls.issue`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import logging
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import KysoError
from agent.files import atomic_write
from agent.localtls.checked import RECORD, CheckedMaterial, material_digest, parse_record
from agent.localtls.plan import RENEW_BEFORE, Action, Decision, sha1_hex, sha256_hex

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

CA_PEM = "ca.pem"
CA_DER = "ca.cer"
SERVER_PEM = "server.pem"
SERVER_KEY = "server.key"
RETIRED = "retired"
# Names a CA private key could have had in older layouts or hand-made setups: always removed.
STRAY_CA_KEYS = ("ca.key", "ca-key.pem", "ca.key.pem")


@dataclass(frozen=True)
class ServerCertificate:
    """The loopback certificate in use, and what just happened to it."""

    cert_path: Path
    key_path: Path
    ca_cert_path: Path
    ca_der_path: Path
    ca_common_name: str
    ca_sha256: str  # lower-case hex
    ca_sha1: str  # upper-case hex (Windows / macOS thumbprint)
    not_after: dt.datetime
    action: Action  # USE, CREATE or RENEW (RENEW = a new CA: browsers must trust it again)
    reasons: tuple[str, ...] = ()

    @property
    def needs_retrust(self) -> bool:
        """True when this call replaced a CA that browsers may have trusted."""
        return self.action is Action.RENEW


@dataclass(frozen=True)
class CaBundle:
    """The current CA and every retired one, as DER, for the trust-store code."""

    current_pem_path: Path
    current_der_path: Path
    current_der: bytes
    common_name: str
    retired: tuple[bytes, ...]

    @property
    def current_sha1(self) -> str:
        """Thumbprint of the current CA."""
        return sha1_hex(self.current_der)

    @property
    def current_sha256(self) -> str:
        """SHA-256 fingerprint of the current CA."""
        return sha256_hex(self.current_der)


def default_directory() -> Path:
    """``data_dir()/tls``: where the agent keeps its loopback certificate."""
    from agent.config.paths import data_dir

    return data_dir() / "tls"


def default_owner() -> str:
    """``hostname/user``, shown in the CA's name so people can tell installs apart."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return f"{socket.gethostname()}/{user}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``directory/.lock`` (a no-op where fcntl is missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: one agent per user session; accept the tiny race
        yield
        return
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_server_certificate(
    directory: Path, *, now: dt.datetime | None = None, owner: str | None = None
) -> ServerCertificate:
    """Make sure ``directory`` holds a valid loopback certificate; create or renew it if not.

    Renewal (less than 30 days left, or anything inconsistent) mints a NEW CA, because the old
    CA's key no longer exists. The old CA certificate is kept under ``retired/`` so that
    ``kyso-agent trust install`` can remove it from browsers and add the new one; the result's
    ``needs_retrust`` tells the caller to say so.
    """
    directory = Path(directory)
    try:
        return _ensure(directory, now or dt.datetime.now(dt.UTC), owner)
    except OSError as exc:
        raise KysoError("TLS_SETUP_FAILED", {"path": str(directory), "detail": str(exc)}) from exc


def _ensure(directory: Path, now: dt.datetime, owner: str | None) -> ServerCertificate:
    with _locked(directory):
        _remove_stray_ca_keys(directory)
        ca_pem = _read(directory / CA_PEM)
        server_pem, key_pem = _read(directory / SERVER_PEM), _read(directory / SERVER_KEY)
        record = parse_record(_read_record(directory))
        if record is not None and record.still_good(
            material_digest(ca_pem, server_pem, key_pem), now
        ):
            return _from_record(directory, record)
        from agent.localtls.plan import decide, inspect_material

        inspection = inspect_material(ca_pem, server_pem, key_pem, now)
        decision = decide(inspection)
        checked = (ca_pem, server_pem, key_pem)
        if decision.action is not Action.USE:
            if decision.action is Action.RENEW and inspection.ca is not None:
                _retire(directory, inspection.ca)
            checked = _mint(directory, owner or default_owner(), now, decision)
        described = load_server_certificate(directory, decision)
        _remember(directory, checked)
    return described


def _read_record(directory: Path) -> bytes | None:
    """The record's bytes; None when it cannot be read (then the start checks in full)."""
    try:
        return _read(directory / RECORD)
    except OSError:
        return None


def _from_record(directory: Path, record: CheckedMaterial) -> ServerCertificate:
    return ServerCertificate(
        cert_path=directory / SERVER_PEM,
        key_path=directory / SERVER_KEY,
        ca_cert_path=directory / CA_PEM,
        ca_der_path=directory / CA_DER,
        ca_common_name=record.ca_common_name,
        ca_sha256=record.ca_sha256,
        ca_sha1=record.ca_sha1,
        not_after=record.not_after,
        action=Action.USE,
    )


def _remember(directory: Path, checked: tuple[bytes | None, bytes | None, bytes | None]) -> None:
    """Record ``checked`` (the bytes just checked, or just minted) as good for the next start,
    only if they are still what the files hold: without a lock (Windows) another process may
    have written its own material meanwhile, which must get a full check. Best effort: a
    record that cannot be written only costs the next start a full check."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca_pem, server_pem, _key_pem = checked
    on_disk = tuple(_read(directory / name) for name in (CA_PEM, SERVER_PEM, SERVER_KEY))
    if ca_pem is None or server_pem is None or on_disk != checked:
        log.info("local TLS: the files changed while they were checked; not recording them")
        return
    ca = x509.load_pem_x509_certificate(ca_pem)
    server = x509.load_pem_x509_certificate(server_pem)
    ca_der = ca.public_bytes(serialization.Encoding.DER)
    not_after = min(ca.not_valid_after_utc, server.not_valid_after_utc)
    record = CheckedMaterial(
        digest=material_digest(*checked),
        not_before=max(ca.not_valid_before_utc, server.not_valid_before_utc),
        renew_from=not_after - RENEW_BEFORE,
        not_after=not_after,
        ca_common_name=_common_name(ca),
        ca_sha256=sha256_hex(ca_der),
        ca_sha1=sha1_hex(ca_der),
    )
    try:
        atomic_write(directory / RECORD, record.to_bytes(), overwrite=True)
    except OSError as exc:
        log.warning("local TLS: could not record the check (%s); the next start checks again", exc)


def _common_name(cert: x509.Certificate) -> str:
    from cryptography import x509

    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def load_server_certificate(directory: Path, decision: Decision | None = None) -> ServerCertificate:
    """Describe the certificate files already in ``directory`` (no checks, no changes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    directory = Path(directory)
    ca = x509.load_pem_x509_certificate((directory / CA_PEM).read_bytes())
    server = x509.load_pem_x509_certificate((directory / SERVER_PEM).read_bytes())
    ca_der = ca.public_bytes(serialization.Encoding.DER)
    decision = decision or Decision(Action.USE)
    return ServerCertificate(
        cert_path=directory / SERVER_PEM,
        key_path=directory / SERVER_KEY,
        ca_cert_path=directory / CA_PEM,
        ca_der_path=directory / CA_DER,
        ca_common_name=_common_name(ca),
        ca_sha256=sha256_hex(ca_der),
        ca_sha1=sha1_hex(ca_der),
        not_after=min(ca.not_valid_after_utc, server.not_valid_after_utc),
        action=decision.action,
        reasons=decision.reasons,
    )


def load_ca_bundle(directory: Path) -> CaBundle:
    """The current CA (DER) and all retired Kyso CAs found in ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    directory = Path(directory)
    ca = x509.load_pem_x509_certificate((directory / CA_PEM).read_bytes())
    retired: list[bytes] = []
    for path in sorted((directory / RETIRED).glob("*.pem")):
        try:
            old = x509.load_pem_x509_certificate(path.read_bytes())
        except ValueError:
            log.warning("ignoring unreadable retired CA %s", path)
            continue
        retired.append(old.public_bytes(serialization.Encoding.DER))
    current = ca.public_bytes(serialization.Encoding.DER)
    return CaBundle(
        current_pem_path=directory / CA_PEM,
        current_der_path=directory / CA_DER,
        current_der=current,
        common_name=_common_name(ca),
        retired=tuple(der for der in retired if der != current),
    )


def ssl_context(server_cert: ServerCertificate) -> ssl.SSLContext:
    """A server-side SSL context for aiohttp: TLS 1.2 or newer, the loopback certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(server_cert.cert_path), str(server_cert.key_path))
    return context


def _mint(
    directory: Path, owner: str, now: dt.datetime, decision: Decision
) -> tuple[bytes, bytes, bytes]:
    """Mint and write a new CA, certificate and key; their PEM bytes (CA, certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from agent.localtls.issue import issue

    log.info("local TLS: %s (%s)", decision.action.value, ", ".join(decision.reasons) or "new")
    pair = issue(owner, now)
    ca = x509.load_pem_x509_certificate(pair.ca_cert_pem)
    # Key first, CA last: a crash in between leaves files that do not match, which the next
    # start detects ("not_issued_by_ca" / "key_mismatch") and repairs.
    atomic_write(directory / SERVER_KEY, pair.server_key_pem, overwrite=True, mode=0o600)
    atomic_write(directory / SERVER_PEM, pair.server_cert_pem, overwrite=True)
    atomic_write(directory / CA_DER, ca.public_bytes(serialization.Encoding.DER), overwrite=True)
    atomic_write(directory / CA_PEM, pair.ca_cert_pem, overwrite=True)
    return pair.ca_cert_pem, pair.server_cert_pem, pair.server_key_pem


def _retire(directory: Path, ca: x509.Certificate) -> None:
    from cryptography.hazmat.primitives import serialization

    der = ca.public_bytes(serialization.Encoding.DER)
    target = directory / RETIRED / f"ca-{sha1_hex(der)}.pem"
    with contextlib.suppress(FileExistsError):
        atomic_write(target, ca.public_bytes(serialization.Encoding.PEM))
    log.warning(
        "local TLS: the CA %s is replaced by a new one; run 'kyso-agent trust install' so "
        "browsers trust the new CA",
        sha1_hex(der),
    )


def _remove_stray_ca_keys(directory: Path) -> None:
    for name in STRAY_CA_KEYS:
        path = directory / name
        if path.exists():
            log.warning("removing a CA private key found at %s: Kyso never keeps one", path)
            path.unlink()
