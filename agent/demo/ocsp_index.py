"""The demo responder's OCSP database: the ``openssl ocsp -index`` file of a demo PKI, made when
the tokens are (:func:`ocsp_index`) and added to when the demo issues more certificates (the
timestamp authority's, the remote service's: :func:`record_issued`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

if TYPE_CHECKING:  # the CA is passed in; pki.py imports this module
    from agent.demo.pki import TestCA


def _index_time(moment: dt.datetime) -> str:
    # openssl's CA database writes UTCTime (valid until 2049, far beyond any demo certificate).
    return moment.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


def _index_serial(cert: x509.Certificate) -> str:
    serial = format(cert.serial_number, "X")
    return serial if len(serial) % 2 == 0 else "0" + serial


def ocsp_index(entries: list[tuple[x509.Certificate, dt.datetime | None]]) -> str:
    """The ``openssl ocsp -index`` database for these certificates: one line each, ``V`` (good)
    or ``R`` with the revocation time and reason keyCompromise (as in the CRL). Serials are
    uppercase hex padded to whole bytes, the way openssl looks them up."""
    lines = []
    for cert, revoked_at in entries:
        serial = _index_serial(cert)
        expiry = _index_time(cert.not_valid_after_utc)
        revocation = f"{_index_time(revoked_at)},keyCompromise" if revoked_at else ""
        # The subject column is only a label for openssl; keep it ASCII and unique.
        lines.append(
            f"{'R' if revoked_at else 'V'}\t{expiry}\t{revocation}\t{serial}\tunknown\t"
            f"/CN=kyso-demo-{serial}"
        )
    return "\n".join(lines) + "\n"


def _parse_index(text: str) -> dict[str, tuple[str, dt.datetime | None]]:
    """serial -> (index line, revoked at) of an ``openssl ocsp -index`` database."""
    entries: dict[str, tuple[str, dt.datetime | None]] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 4:
            continue
        revoked_at = None
        if fields[0] == "R" and fields[2]:
            stamp = fields[2].split(",", 1)[0]
            revoked_at = dt.datetime.strptime(stamp, "%y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
        entries[fields[3].upper()] = (line, revoked_at)
    return entries


def record_issued(ca: TestCA, entries: list[tuple[x509.Certificate, bool]]) -> bool:
    """Record certificates the issuing CA issued outside :func:`agent.demo.tokens.init` (the
    timestamp authority's, the remote service's) in its OCSP database, so the demo responder
    answers "good" (or "revoked": ``True``) for them as for the tokens', not "unknown"; a
    revoked one is added to the issuing CA's CRL too, so both sources say the same. Serials
    already recorded are left as they are. Returns whether anything was written; nothing is
    for a demo without a responder (no index, made by an older version)."""
    if ca.directory is None or not (ca.directory / "index.txt").exists():
        return False
    from agent.files import atomic_write

    index = ca.directory / "index.txt"
    known = _parse_index(index.read_text(encoding="ascii"))
    shared = next((when for _, when in known.values() if when is not None), None)
    revoked_at = shared or dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    new = [
        (cert, revoked_at if revoked else None)
        for cert, revoked in entries
        if _index_serial(cert) not in known and cert.issuer == ca.issuing_cert.subject
    ]
    if not new:
        return False
    lines = [line for line, _ in known.values()] + ocsp_index(new).splitlines()
    atomic_write(index, ("\n".join(lines) + "\n").encode("ascii"), overwrite=True)
    if any(when is not None for _, when in new):
        crl_path = ca.directory / "issuing-ca.crl.pem"
        number = 1
        if crl_path.exists():
            old = x509.load_pem_x509_crl(crl_path.read_bytes())
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        revoked = [(int(serial, 16), when) for serial, (_, when) in known.items() if when]
        revoked += [(cert.serial_number, when) for cert, when in new if when is not None]
        # A higher CRL number: the new list supersedes the one relying parties may hold.
        crl = ca.issuing_crl(revoked, number)
        atomic_write(crl_path, crl.public_bytes(serialization.Encoding.PEM), overwrite=True)
    return True
