"""What a person is shown about one thing to be signed. Built by the formats (which know what a
dossier contains), displayed by the UI; it lives here so that the UI depends on signing and not
the other way round."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentItem:
    """One thing to be signed, summarised for a person."""

    title: str  # e.g. "Hồ sơ 600 — Báo tăng lao động (D02-TS)"
    lines: tuple[tuple[str, str], ...] = ()  # (label, value) pairs: unit, MST, period, records...
    sha256: str = ""  # hex digest of the exact bytes signed
