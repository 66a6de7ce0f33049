"""Verify every signature in a PDF with pyHanko, against Kyso's trust store, and name its level.

The integrity, coverage and chain checks are pyHanko's (a maintained implementation); Kyso adds
the verdict people read: which signature, who signed, when, whether it covers the whole file or
an earlier revision, whether later changes were allowed, and the PAdES level reached.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from agent.errors import KysoError
from agent.signing.pdf.inspect import open_reader
from agent.signing.pdf.sign import PadesLevel
from agent.signing.trust import TrustStore


@dataclass(frozen=True)
class PdfSignatureReport:
    """One signature's verdict."""

    field_name: str
    signer: str
    mst: str | None
    intact: bool  # the bytes it covers are unchanged and the signature value checks
    trusted: bool  # the certificate chains to a trusted CA and was not revoked
    covers_whole_file: bool
    modification_level: str  # pyHanko's: none, lta_updates, form_filling, annotations, other
    level: PadesLevel | str
    signing_time: str | None  # ISO 8601 UTC: the timestamp when there is one, else the claim
    timestamped: bool
    problem: str | None = None

    @property
    def valid(self) -> bool:
        """Intact, trusted and no change after it beyond what signing allows."""
        return (
            self.intact
            and self.trusted
            and self.modification_level in ("none", "lta_updates", "form_filling")
        )

    def to_json(self) -> dict[str, Any]:
        """The report for ``verify-pdf --json``."""
        return {
            "field": self.field_name,
            "signer": self.signer,
            "mst": self.mst,
            "valid": self.valid,
            "intact": self.intact,
            "trusted": self.trusted,
            "covers_whole_file": self.covers_whole_file,
            "modification_level": self.modification_level,
            "level": str(self.level),
            "signing_time": self.signing_time,
            "timestamped": self.timestamped,
            "problem": self.problem,
        }


async def verify_pdf(document: bytes, trust: TrustStore) -> list[PdfSignatureReport]:
    """Every signature's report, oldest first; NOT_SIGNED when there is none."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature

    open_reader(document)  # PDF_MALFORMED / PDF_ENCRYPTED with their codes
    reader = PdfFileReader(io.BytesIO(document), strict=False)
    embedded = reader.embedded_regular_signatures
    if not embedded:
        raise KysoError("NOT_SIGNED", {"container": "PDF"})
    has_dss = "/DSS" in reader.root
    reports = []
    for sig in embedded:
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=trust.context(None),
            ts_validation_context=trust.context(None),
        )
        reports.append(_report(sig, status, has_dss))
    return reports


def _report(sig: Any, status: Any, has_dss: bool) -> PdfSignatureReport:
    from agent.tokens.certinfo import parse_certificate

    info = parse_certificate(sig.signer_cert.dump())
    timestamped = status.timestamp_validity is not None
    when: dt.datetime | None = None
    if timestamped:
        when = status.timestamp_validity.timestamp
    elif status.signer_reported_dt is not None:
        when = status.signer_reported_dt
    if timestamped and has_dss:
        level: PadesLevel | str = PadesLevel.B_LT
    elif timestamped:
        level = PadesLevel.B_T
    else:
        level = PadesLevel.B_B
    if sig.sig_object.get("/SubFilter") != "/ETSI.CAdES.detached":
        level = f"CMS ({str(sig.sig_object.get('/SubFilter', '?')).lstrip('/')}, not PAdES)"
    modification = getattr(status.modification_level, "name", "OTHER").lower()
    problem = None
    if not status.intact or not status.valid:
        problem = "the signed bytes were changed or the signature value is wrong"
    elif not status.trusted:
        problem = str(getattr(status, "trust_problem_indic", None) or "certificate not trusted")
    return PdfSignatureReport(
        field_name=str(sig.field_name),
        signer=info.subject_cn or info.subject_display,
        mst=info.mst,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=status.coverage.name == "ENTIRE_FILE",
        modification_level=modification,
        level=level,
        signing_time=when.astimezone(dt.UTC).isoformat() if when else None,
        timestamped=timestamped,
        problem=problem,
    )
