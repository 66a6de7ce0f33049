"""Verify a PDF in a child process that is stopped at a deadline.

pyHanko can take hours over a small hostile file: its difference analysis (bounded in-process
by :mod:`agent.signing.pdf.walkbudget`), its path building over certificates a signature
carries, or whatever else a later file finds. A thread cannot be stopped, so ``verify-pdf``
and the portal run the verification in a process of its own and end it at the deadline:
``PDF_VERIFY_TIMEOUT``, never a verdict.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from agent.errors import KysoError
from agent.signing.pdf.verify import PdfSignatureReport
from agent.signing.trust import TrustStore

if TYPE_CHECKING:  # ForkContext does not exist on Windows
    from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext


class VerificationCrashed(RuntimeError):
    """The child raised something other than a KysoError (pyHanko on a hostile file), or died."""


def verify_pdf_bounded(
    document: bytes, trust: TrustStore, *, seconds: float
) -> list[PdfSignatureReport]:
    """:func:`agent.signing.pdf.verify.verify_pdf` in a child process: its reports, its
    KysoError, or ``PDF_VERIFY_TIMEOUT`` once ``seconds`` have passed (the child is killed).
    Blocking: for a thread (the portal's check), not for an event loop."""
    with _Verification(document, trust, seconds) as verification:
        return verification.outcome(verification.receiving.poll(seconds))


async def verify_pdf_bounded_async(
    document: bytes, trust: TrustStore, *, seconds: float
) -> list[PdfSignatureReport]:
    """:func:`verify_pdf_bounded` awaited: the event loop stays free, so Ctrl-C (the loop
    cancels the command) ends the child at once instead of at the deadline."""
    with _Verification(document, trust, seconds) as verification:
        deadline = time.monotonic() + seconds
        ready = verification.receiving.poll()
        while not ready and time.monotonic() < deadline:
            await asyncio.sleep(_POLL_SECONDS)
            ready = verification.receiving.poll()
        return verification.outcome(ready)


# How often verify_pdf_bounded_async looks at the child's pipe.
_POLL_SECONDS = 0.05
# The child's own budget for pyHanko's walk, a share of the deadline: it stops first and
# answers (PDF_VERIFY_TIMEOUT, the same seconds) instead of being killed.
_WALK_SHARE = 0.8


class _Verification:
    """A child process verifying one document; killed and reaped when the block ends."""

    def __init__(self, document: bytes, trust: TrustStore, seconds: float) -> None:
        self.seconds = seconds
        context = _context()
        self.receiving, sending = context.Pipe(duplex=False)
        self.child = context.Process(
            target=_verify_in_child,
            args=(sending, document, trust, seconds * _WALK_SHARE),
            name="kyso-verify-pdf",
        )
        self.child.daemon = True  # never outlives the command or the portal
        self.child.start()
        sending.close()  # the child holds the only writing end: its death reads as EOF here

    def __enter__(self) -> _Verification:
        return self

    def __exit__(self, *_: object) -> None:
        self.receiving.close()
        if self.child.is_alive():
            self.child.kill()
        self.child.join()

    def outcome(self, ready: bool) -> list[PdfSignatureReport]:
        """The child's answer once ``ready``; PDF_VERIFY_TIMEOUT when not."""
        timeout = KysoError("PDF_VERIFY_TIMEOUT", {"seconds": _whole(self.seconds)})
        if not ready:
            raise timeout
        try:
            kind, value = self.receiving.recv()
        except EOFError:  # killed (out of memory) before it answered
            raise VerificationCrashed(
                f"the verifying process ended ({self.child.exitcode})"
            ) from None
        if kind == "reports":
            return list(value)
        if kind == "kyso":
            code, details = value
            raise timeout if code == "PDF_VERIFY_TIMEOUT" else KysoError(code, details)
        raise VerificationCrashed(value)


def _context() -> SpawnContext | ForkContext | ForkServerContext:
    if sys.platform in ("win32", "darwin"):  # no fork; macOS's system libraries are not
        return multiprocessing.get_context("spawn")  # fork-safe (CPython spawns there too)
    # fork is immediate, and safe while this is the only thread (verify-pdf). A process with
    # other threads (the portal) may fork with their locks held: its children come from a
    # fork server started clean once, with pyHanko and the verifier already imported.
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload([__name__])
    return server


def _whole(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds


def _verify_in_child(
    sending: Connection, document: bytes, trust: TrustStore, walk_seconds: float
) -> None:
    import logging

    from agent.signing.pdf.verify import verify_pdf

    if not logging.getLogger().handlers:  # a spawned child: pyHanko's tracebacks of each
        logging.getLogger("pyhanko").addHandler(logging.NullHandler())  # refused path stay quiet
    outcome: tuple[str, Any]
    try:
        # The walk's own budget, a share of the deadline (CPU time): it stops first when the
        # walk is the slow part, and the child answers instead of being killed.
        reports = asyncio.run(verify_pdf(document, trust, analysis_seconds=walk_seconds))
        outcome = ("reports", reports)
    except KysoError as exc:
        outcome = ("kyso", (exc.code, dict(exc.details)))
    except Exception as exc:  # the parent raises it as VerificationCrashed, with its name
        outcome = ("crash", f"{type(exc).__name__}: {exc}")
    sending.send(outcome)
    sending.close()


__all__ = ["VerificationCrashed", "verify_pdf_bounded", "verify_pdf_bounded_async"]
