"""A pyHanko reader for untrusted files: its difference analysis stops at a time budget, and
its cross-reference streams may not describe more objects than the file could hold.

Before it compares two revisions, pyHanko walks every path from the trailer to every object
(``HistoricalResolver._load_reverse_xref_cache``), skipping only cycles. Objects that all reach
each other through one shared direct array (or widgets carrying their page inline in /P) make
the paths, and the walk, grow as a factorial: nine such objects took 212 s, thirty would take
longer than the universe. The walk resolves each object it enters through the revision's
resolver, so a resolver that looks at the clock every so often can stop it. A thread cannot
be interrupted otherwise, and the agent's would hold the GIL all the while.

A cross-reference stream of a million identical entries packs into 5 KB, and pyHanko reads each
entry in Python on every opening (a 13 KB file: 47 s before the consent, 99 s and 676 MB in
verify-pdf). An entry (5 to 8 bytes) describes an object of the file, which takes more room
than that: decoded cross-reference data beyond four times the file's size (and 256 KB, some
40,000 objects) is refused as malformed.
"""

from __future__ import annotations

import os
import time
from typing import IO, Any

from pyhanko.pdf_utils.decode_limits import (
    DEFAULT_PURPOSE_LIMITS,
    DecodeLimits,
    DecodePurpose,
    StreamDecodeLimits,
)
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

# Ordinary files take milliseconds (a 200-page, two-signature contract: well under a second);
# past this the analysis is stopped and the signatures it was for count as not shown intact.
ANALYSIS_SECONDS = 10.0
XREF_BYTES_PER_FILE_BYTE = 4
XREF_BYTES_FLOOR = 256 * 1024
# The clock is read once per this many objects entered (a walk enters millions per minute).
_CHECK_EVERY = 1024


class AnalysisTooLong(Exception):
    """pyHanko's analysis of a revision went past the reader's time budget."""


class BudgetedReader(PdfFileReader):
    """A PdfFileReader whose revisions' resolvers stop a walk past ``seconds`` from now."""

    def __init__(self, stream: IO[bytes], *, seconds: float | None = None) -> None:
        super().__init__(stream, strict=False, decode_limits=untrusted_limits(stream))
        seconds = ANALYSIS_SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.ran_out = False  # set once a walk was stopped: the caller says so

    def get_historical_resolver(self, revision: int) -> HistoricalResolver:
        """pyHanko's view of ``revision``, with the budget's clock."""
        cache = self._historical_resolver_cache
        resolver = cache.get(revision)
        if resolver is None:
            resolver = cache[revision] = _BudgetedResolver(self, revision)
        return resolver


def untrusted_limits(stream: IO[bytes]) -> DecodeLimits:
    """pyHanko's limits for untrusted files, with cross-reference streams held to the size of
    the file (``stream``'s position is kept)."""
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    xref = StreamDecodeLimits(
        max_output_size=max(XREF_BYTES_FLOOR, XREF_BYTES_PER_FILE_BYTE * size)
    )
    return DecodeLimits(per_purpose={**DEFAULT_PURPOSE_LIMITS, DecodePurpose.XREF_STREAM: xref})


class _BudgetedResolver(HistoricalResolver):
    def __init__(self, reader: BudgetedReader, revision: int) -> None:
        super().__init__(reader, revision)
        self._budget = reader
        self._entered = 0

    def __call__(self, ref: Any) -> Any:
        self._entered += 1
        if self._entered % _CHECK_EVERY == 0 and time.monotonic() > self._budget.deadline:
            self._budget.ran_out = True
            raise AnalysisTooLong(f"analysis stopped after {self._budget.seconds:.0f} s")
        return super().__call__(ref)


__all__ = ["ANALYSIS_SECONDS", "AnalysisTooLong", "BudgetedReader", "untrusted_limits"]
