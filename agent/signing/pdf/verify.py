"""Verify every signature in a PDF with pyHanko, against Kyso's trust store, and name its level.

The integrity, coverage and chain checks are pyHanko's (a maintained implementation); Kyso adds
the verdict people read: which signature, who signed, when, whether it covers the whole file or
an earlier revision, whether later changes were allowed, and the PAdES level reached.

A PAdES B-LT file carries the validation data in its document security store (DSS): its
certificates, OCSP answers and CRLs are added to the trust store's (pyHanko's
``DocumentSecurityStore.as_validation_context``), so a B-LT file verifies offline in the strict
revocation modes with only the root trusted. DSS content is the file's word, not trust: its
certificates only help build paths to the anchors given, and a CRL or OCSP answer counts only
when its issuer's signature checks.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass, replace
from typing import Any

from agent.errors import KysoError
from agent.signing.cms import refuse_crowds
from agent.signing.pdf.fields import FieldTreeUnusual, check_field_paths
from agent.signing.pdf.inspect import open_reader, unreadable
from agent.signing.pdf.overlay import UNCHECKED, StampCheck
from agent.signing.pdf.problems import (
    CERTIFICATION_BROKEN,
    CHANGED,
    CHANGED_AFTER,
    TIMESTAMP_ALTERED,
    TIMESTAMP_TIME_IMPOSSIBLE,
    Problem,
    fields_changed,
    stamp_covers,
    stamps_unchecked,
    trust_problem,
)
from agent.signing.pdf.sign import PadesLevel
from agent.signing.pdf.syntax import (
    read_every_object,
    refuse_repeats,
    repeated_keys,
    trailer_repeats,
)
from agent.signing.timestamps import FUTURE_TOLERANCE
from agent.signing.trust import TrustStore

log = logging.getLogger(__name__)


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
    signing_time: str | None  # ISO 8601 UTC: a sound timestamp's time, else the claim
    timestamped: bool
    problem: str | None = None
    # False when a signature timestamp is present but altered, stamps another signature or
    # comes from an authority the trust store does not accept.
    timestamp_valid: bool = True
    # Form fields changed after this signature that no later signature in the file fills: a
    # value typed over, or a field (a signature field too) added with its own appearance —
    # what a shadow attack draws over the signed page.
    fields_changed_after: tuple[str, ...] = ()
    # False when a certification's DocMDP permissions forbid a change made after it.
    docmdp_ok: bool = True
    # Later signatures whose stamp is drawn over text this signature covers (a "sneaky
    # signature": the page shown is not the page signed).
    covered_by: tuple[str, ...] = ()
    # ``problem`` in Vietnamese, and what to do next (both languages): agent.signing.pdf.problems.
    problem_vi: str | None = None
    action_en: str | None = None
    action_vi: str | None = None

    @property
    def valid(self) -> bool:
        """Intact, trusted, its timestamp (if any) sound, and nothing changed after it but
        later signatures (each in its own field), validation data and document timestamps,
        within what a certification permits."""
        return (
            self.intact
            and self.trusted
            and self.timestamp_valid
            and self.docmdp_ok
            and not self.fields_changed_after
            and not self.covered_by
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
            # null without a timestamp: there is none to call sound.
            "timestamp_valid": self.timestamp_valid if self.timestamped else None,
            "problem": self.problem,
            "problem_vi": self.problem_vi,
            "action_en": self.action_en,
            "action_vi": self.action_vi,
            "fields_changed_after": list(self.fields_changed_after),
            "docmdp_ok": self.docmdp_ok,
            "covered_by_later_stamps": list(self.covered_by),
        }


async def verify_pdf(
    document: bytes, trust: TrustStore, *, analysis_seconds: float | None = None
) -> list[PdfSignatureReport]:
    """Every signature's report, oldest first; NOT_SIGNED when there is none;
    PDF_VERIFY_TIMEOUT when pyHanko's comparison of revisions takes longer than
    ``analysis_seconds`` (default :data:`agent.signing.pdf.walkbudget.ANALYSIS_SECONDS`)."""
    from pyhanko.sign.validation import async_validate_pdf_signature

    from agent.signing.pdf.walkbudget import AnalysisTooLong, BudgetedReader

    try:
        _refuse_ambiguous(document)
    except KysoError as exc:
        if exc.code != "PDF_ENCRYPTED":
            raise
        # Not the signing advice ("remove the password"): saving the file again would break
        # the signatures being checked (interop 41).
        raise KysoError("PDF_ENCRYPTED_UNVERIFIABLE") from exc
    # pyHanko's difference analysis stops at a time budget (a tangled file: hours otherwise).
    reader = BudgetedReader(io.BytesIO(document), seconds=analysis_seconds)
    try:
        check_field_paths(reader)  # pyHanko lists the signatures down every field path
    except FieldTreeUnusual as exc:
        detail = f"its form fields could not be checked ({exc})"
        raise KysoError("PDF_MALFORMED", {"detail": detail}) from None
    embedded = reader.embedded_regular_signatures
    if not embedded:
        raise KysoError("NOT_SIGNED", {"container": "PDF"})
    for sig in embedded:  # a signature padded with items: refused before pyHanko parses it
        try:
            refuse_crowds(sig.signed_data)
        except ValueError as exc:
            detail = f"the signature in {sig.field_name} holds {exc}"
            raise KysoError("PDF_MALFORMED", {"detail": detail}) from None
    # Each signature signed its own revision: an object written ambiguously there and cleanly
    # in a later update (a later signer's page rewrite) is read again as that revision stood.
    # Only ends where a revision really ends (%%EOF), at most MAX_REVISION_PASSES of them (a
    # pass may take seconds: twenty forged ByteRanges must not make twenty).
    ends = {_signed_end(sig) for sig in embedded} - {len(document)}
    revisions = sorted(end for end in ends if _ends_a_revision(document, end))
    for end in revisions[:MAX_REVISION_PASSES]:
        _refuse_ambiguous(document[:end])
    has_dss = "/DSS" in reader.root
    # Every signature field filled in the file (document timestamps too): a later signature's
    # own field is the one form change an earlier signature allows.
    signed_fields = {str(s.field_name) for s in reader.embedded_signatures}
    # A later signer's stamp drawn over the words an earlier one signed (agent.signing.pdf
    # .overlay): pyHanko calls a new signature field form filling, whatever it draws.
    stamp_check = StampCheck(document)
    reports = []
    for sig in embedded:
        try:
            status = await async_validate_pdf_signature(
                sig,
                signer_validation_context=_context(reader, trust),
                ts_validation_context=_context(reader, trust),
            )
        except unreadable() as exc:  # a damaged update after the signature, met while diffing
            raise KysoError("PDF_MALFORMED", {"detail": f"{type(exc).__name__}: {exc}"}) from exc
        except AnalysisTooLong as exc:  # no verdict rather than a guess
            seconds = int(reader.seconds) if reader.seconds.is_integer() else reader.seconds
            raise KysoError("PDF_VERIFY_TIMEOUT", {"seconds": seconds}) from exc
        end = _signed_end(sig)
        changed = getattr(getattr(status, "diff_result", None), "changed_form_fields", None)
        named = {str(name) for name in changed or ()} - (signed_fields - {str(sig.field_name)})
        report = _report(sig, status, has_dss, stamp_check.changed_fields(end, named))
        covered_by = stamp_check.covering(end) if end < len(document) else ()
        reports.append(_with_covering(report, covered_by))
    return reports


def _with_covering(report: PdfSignatureReport, covered_by: tuple[str, ...]) -> PdfSignatureReport:
    """The report with the later stamps drawn over its text (not valid then); a problem found
    first (a change, trust) stays the one named."""
    if not covered_by:
        return report
    if UNCHECKED in covered_by:
        problem = stamps_unchecked()
    else:
        problem = stamp_covers(", ".join(covered_by[:5]))
    named = report.problem is not None
    return replace(
        report,
        covered_by=covered_by,
        problem=report.problem if named else problem.en,
        problem_vi=report.problem_vi if named else problem.vi,
        action_en=report.action_en if named else problem.action_en,
        action_vi=report.action_vi if named else problem.action_vi,
    )


# Earlier signed revisions read again for repeated keys; past these the first ones are (a file
# signed by more people than this is rare, and each pass reads every object).
MAX_REVISION_PASSES = 8


def _ends_a_revision(document: bytes, end: int) -> bool:
    """Whether ``end`` is where an incremental update ends: just after its ``%%EOF``."""
    return 0 < end < len(document) and document[max(0, end - 32) : end].rstrip().endswith(b"%%EOF")


def _signed_end(sig: Any) -> int:
    """Where the bytes ``sig`` covers end (its revision's end); 0 when not readable."""
    try:
        *_, start, length = (int(n) for n in sig.sig_object["/ByteRange"])
    except (KeyError, TypeError, ValueError):
        return 0
    return start + length


def _refuse_ambiguous(document: bytes) -> None:
    """PDF_MALFORMED / PDF_ENCRYPTED with their codes; PDF_MALFORMED, as when signing, for a
    dictionary naming a key twice with different values: viewers show different pages, so no
    verdict can say what was signed (:mod:`agent.signing.pdf.syntax`). Past the pass's
    bounds the rest of a huge file is not checked (the verdicts below still hold for bytes)."""
    stream = io.BytesIO(document)
    with repeated_keys() as repeats:  # the trailer, read on opening: pyHanko's warning
        checked = open_reader(stream)
    repeats += trailer_repeats(stream)  # the same, whatever the logging settings
    read_every_object(checked, repeats)
    refuse_repeats(repeats)


def _context(reader: Any, trust: TrustStore) -> Any:
    """A fresh validation context: the trust store's, plus the file's DSS when it has one.

    The policies (revocation mode, weak hashes, retroactive revocation data) come from
    :meth:`TrustStore.context`; only certificates, CRLs and OCSP answers are added.
    """
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError

    base = trust.context(None)
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        return dss.as_validation_context(
            {
                "trust_roots": list(trust.anchors),
                "other_certs": list(trust.intermediates),
                "crls": list(trust.crls),
                "allow_fetching": False,
                "revinfo_policy": base.revinfo_policy,
                "algorithm_usage_policy": base.algorithm_policy,
            }
        )
    except NoDSSFoundError:
        return base
    except (PdfError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # A DSS Kyso cannot read adds nothing: the verdict then rests on the trust store alone
        # (stricter, never laxer).
        log.debug("unreadable DSS ignored: %s", exc)
        return base


def _report(sig: Any, status: Any, has_dss: bool, changed: set[str]) -> PdfSignatureReport:
    """One signature's report; ``changed``: the form fields other than signatures' own that
    were really changed after it."""
    from agent.tokens.certinfo import parse_certificate

    info = parse_certificate(sig.signer_cert.dump())
    stamp = status.timestamp_validity
    timestamped = stamp is not None
    stamp_problem = _timestamp_problem(stamp, sig.signer_cert)
    when: dt.datetime | None = None
    if timestamped and stamp_problem is None:
        when = stamp.timestamp
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
    fields_changed_after = tuple(sorted(changed))
    docmdp_ok = status.docmdp_ok is not False
    problem: Problem | None = None
    if not status.intact or not status.valid:
        problem = CHANGED
    elif not status.trusted:
        problem = trust_problem(getattr(status, "trust_problem_indic", None))
    elif stamp_problem is not None:
        problem = stamp_problem
    elif fields_changed_after:
        problem = fields_changed(", ".join(fields_changed_after[:5]))
    elif not docmdp_ok:
        # pyHanko clears docmdp_ok for any signature followed by changes beyond form filling;
        # only a certification's own (/DocMDP) is "a certification that does not permit it".
        certifying = getattr(sig, "docmdp_level", None) is not None
        problem = CERTIFICATION_BROKEN if certifying else CHANGED_AFTER
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
        problem=problem.en if problem else None,
        problem_vi=problem.vi if problem else None,
        action_en=problem.action_en if problem else None,
        action_vi=problem.action_vi if problem else None,
        timestamp_valid=stamp_problem is None,
        fields_changed_after=fields_changed_after,
        docmdp_ok=docmdp_ok,
    )


def _timestamp_problem(stamp: Any, signer_cert: Any) -> Problem | None:
    """Why the signature timestamp (pyHanko's verdict on it) cannot be relied on, if so. Its
    time must also be possible: not ahead of now (as verify-cms and verify-xml require), and
    within the validity of the signer's certificate and of the authority's that signed it
    (pyHanko accepts a token dated 2001 from a 2026 authority, and a year ahead, and the
    report then showed that time as proven)."""
    if stamp is None:
        return None
    if not (stamp.intact and stamp.valid):
        return TIMESTAMP_ALTERED
    if not stamp.trusted:
        return trust_problem(getattr(stamp, "trust_problem_indic", None), timestamp=True)
    when = stamp.timestamp
    if when > dt.datetime.now(dt.UTC) + FUTURE_TOLERANCE:
        return TIMESTAMP_TIME_IMPOSSIBLE
    for cert in (signer_cert, getattr(stamp, "signing_cert", None)):
        if cert is not None and not _within_validity(cert, when):
            return TIMESTAMP_TIME_IMPOSSIBLE
    return None


def _within_validity(cert: Any, when: dt.datetime) -> bool:
    validity = cert["tbs_certificate"]["validity"]
    return bool(validity["not_before"].native <= when <= validity["not_after"].native)
