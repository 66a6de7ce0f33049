"""What a person is shown about one thing to be signed. Built by the formats (which know what a
dossier contains), displayed by the UI; it lives here so that the UI depends on signing and not
the other way round."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.errors import KysoError

if TYPE_CHECKING:
    from agent.tokens.certinfo import CertificateInfo


@dataclass(frozen=True)
class ConsentItem:
    """One thing to be signed, summarised for a person."""

    title: str  # e.g. "Hồ sơ 600 — Báo tăng lao động (D02-TS)"
    lines: tuple[tuple[str, str], ...] = ()  # (label, value) pairs: unit, MST, period, records...
    sha256: str = ""  # hex digest of the bytes the page sent
    # Which file the hash is of, "vi / en" (e.g. the dossier before signing); empty: the default
    # "Mã băm SHA-256 của tệp gửi ký / SHA-256 of the file sent for signing".
    sha256_label: str = ""
    # The tax code of the unit the document is for (a dossier's MaSoThue); empty: taken from a
    # "MST" / "Mã số thuế" line, if any. Compared with the certificate's MST before signing.
    mst: str = ""
    # A small PNG of the page where a visible signature will go, the stamp's box drawn on it
    # (agent.signing.pdf.preview); None when there is nothing to show or it could not be made.
    preview_png: bytes | None = None
    # The page's own name for the item (untrusted): a line of ``lines`` too, and after the
    # title in a batch's list, never in place of or before what Kyso read from the document.
    page_label: str = ""


_MST_LABELS = ("mst", "mã số thuế", "mã số thuế đơn vị")


def document_msts(items: tuple[ConsentItem, ...] | list[ConsentItem]) -> tuple[str, ...]:
    """The tax codes the documents name, each once, in order (from ``mst`` or an MST line)."""
    found: list[str] = []
    for item in items:
        values = [item.mst] if item.mst else []
        values += [
            v for label, v in item.lines if label.split(" / ")[0].strip().lower() in _MST_LABELS
        ]
        for value in values:
            # XML whitespace only: "0101234567" + U+00A0 or U+2060 is not that tax code.
            value = value.strip(" \t\r\n")
            if value and value not in found:
                found.append(value)
    return tuple(found)


def mst_mismatch(certificate_mst: str | None, items: tuple[ConsentItem, ...]) -> str | None:
    """The first document MST that differs from the certificate's, or None when they agree
    (or either side has none: a personal certificate, a document without a unit)."""
    if not certificate_mst:
        return None
    mine = certificate_mst.strip()
    return next((m for m in document_msts(items) if m != mine), None)


def check_mst(policy: str, cert: CertificateInfo, items: tuple[ConsentItem, ...]) -> None:
    """Under ``mst_mismatch = "refuse"``, refuse a document for another unit than the
    certificate's before any prompt (under "warn" the consent shows it in red)."""
    other = mst_mismatch(cert.mst, items)
    ambiguous = [value for kind, value in cert.ambiguous_ids if kind == "MST"]
    if other is None and ambiguous:
        # Two different MSTs in the certificate: it has none, and no document's can match.
        other = next(iter(document_msts(items)), None)
    if other is not None and policy == "refuse":
        raise KysoError(
            "MST_MISMATCH",
            # The page's own text, echoed back to it (every prompter renders details inert).
            {
                "document_mst": other[:40],
                "certificate_mst": cert.mst or " / ".join(ambiguous)[:100],
            },
        )
