"""A pyHanko reader for untrusted files: its difference analysis stops at a time budget, and
its cross-reference streams may not describe more objects than the file could hold.

Before it compares two revisions, pyHanko walks every path from the trailer to every object
(``HistoricalResolver._load_reverse_xref_cache``), skipping only cycles. Objects that all reach
each other through one shared direct array (or widgets carrying their page inline in /P) make
the paths, and the walk, grow as a factorial: nine such objects took 212 s, thirty would take
longer than the universe. The walk resolves each object it enters through the revision's
resolver, so a resolver that looks at the clock each time can stop it (between two looks it
walks at most one object's direct content). A thread cannot be interrupted otherwise, and the
agent's would hold the GIL all the while. The budget is the thread's CPU time from the first
object the analysis enters: neither reading the file before nor other threads count.

A cross-reference stream of a million identical entries packs into 5 KB, and pyHanko reads each
entry in Python on every opening (a 13 KB file: 47 s before the consent, 99 s and 676 MB in
verify-pdf); so do fifty small ones chained by /Prev (review 36). An entry (5 to 8 bytes)
describes an object of the file, which takes more room than that: decoded cross-reference data
beyond four times the file's size in all (and 64 KB, some 10,000 objects) is refused as
malformed.
"""

from __future__ import annotations

import os
import time
from typing import IO, Any

from pyhanko.pdf_utils.decode_limits import DecodeContext, DecodeLimits, DecodePurpose
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

# Ordinary files take milliseconds (a 200-page, two-signature contract: well under a second);
# past this the analysis is stopped and the signatures it was for count as not shown intact.
ANALYSIS_SECONDS = 10.0
XREF_BYTES_PER_FILE_BYTE = 4
XREF_BYTES_FLOOR = 64 * 1024


class AnalysisTooLong(Exception):
    """pyHanko's analysis of a revision went past the reader's time budget."""


class BudgetedReader(PdfFileReader):
    """A PdfFileReader whose cross-reference streams share one size limit and whose revisions'
    resolvers stop a walk past ``seconds`` of this thread's CPU time."""

    def __init__(
        self, stream: IO[bytes], *, seconds: float | None = None, strict: bool = False
    ) -> None:
        self.seconds = ANALYSIS_SECONDS if seconds is None else seconds
        self.deadline: float | None = None  # set when the analysis enters its first object
        self.ran_out = False  # set once a walk was stopped: the caller says so
        # Before the base class reads the cross-reference sections through it.
        self._counting = _XrefBudget(DecodeLimits(), _size(stream))
        super().__init__(stream, strict=strict, decode_limits=DecodeLimits())

    @property
    def decode_context(self) -> DecodeContext:
        """pyHanko's limits, with every cross-reference stream charged to one budget."""
        return self._counting

    def get_historical_resolver(self, revision: int) -> HistoricalResolver:
        """pyHanko's view of ``revision``, with the budget's clock."""
        cache = self._historical_resolver_cache
        resolver = cache.get(revision)
        if resolver is None:
            resolver = cache[revision] = _BudgetedResolver(self, revision)
        return resolver

    def check_clock(self) -> None:
        """AnalysisTooLong once the budget is spent (it starts at the first call)."""
        now = time.thread_time()
        if self.deadline is None:
            self.deadline = now + self.seconds
        elif now > self.deadline:
            self.ran_out = True
            raise AnalysisTooLong(f"analysis stopped after {self.seconds:.0f} s")


def _size(stream: IO[bytes]) -> int:
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size


class _XrefBudget(DecodeContext):
    """pyHanko's decoding limits, and one budget for the decoded bytes of all cross-reference
    streams, each charged up front with what its /Index and /W say it holds."""

    def __init__(self, limits: DecodeLimits, input_size: int) -> None:
        super().__init__(limits, input_size=input_size)
        self.xref_left = max(XREF_BYTES_FLOOR, XREF_BYTES_PER_FILE_BYTE * input_size)

    def stream_output_cap(
        self,
        encoded_size: int,
        purpose: DecodePurpose = DecodePurpose.GENERIC,
        expected_size: int | None = None,
    ) -> int | None:
        """The base cap; for a cross-reference stream, no more than the budget has left."""
        cap = super().stream_output_cap(encoded_size, purpose, expected_size)
        if purpose is not DecodePurpose.XREF_STREAM:
            return cap
        left = max(0, self.xref_left)
        cap = left if cap is None else min(cap, left)
        self.xref_left -= expected_size if expected_size is not None else cap
        return cap


class _BudgetedResolver(HistoricalResolver):
    def __init__(self, reader: BudgetedReader, revision: int) -> None:
        super().__init__(reader, revision)
        self._budget = reader

    def __call__(self, ref: Any) -> Any:
        self._budget.check_clock()
        return super().__call__(ref)


__all__ = ["ANALYSIS_SECONDS", "AnalysisTooLong", "BudgetedReader"]
