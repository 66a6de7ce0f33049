"""Verify a PDF in a child process that is stopped at a deadline.

pyHanko's difference analysis walks every path from the trailer to every object of each
revision after a signature. A 21 KB file whose objects point at each other through one shared
direct array (nine such objects: 212 s here; each one more multiplies it), or whose widgets
carry their page inline in /P, keeps it busy for hours. A thread cannot be stopped, so
``verify-pdf`` and the portal run the verification in a process of its own and end it at the
deadline: ``PDF_VERIFY_TIMEOUT``, never a verdict.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
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
    Blocking: call it from a thread or a command, not from a serving event loop."""
    context = _context()
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_verify_in_child,
        args=(sending, document, trust, seconds),
        name="kyso-verify-pdf",
    )
    child.daemon = True  # never outlives the command or the portal
    child.start()
    sending.close()  # the child holds the only writing end: its death reads as EOF here
    try:
        if not receiving.poll(seconds):
            raise KysoError("PDF_VERIFY_TIMEOUT", {"seconds": _whole(seconds)})
        try:
            outcome = receiving.recv()
        except EOFError:  # killed (out of memory) before it answered
            raise VerificationCrashed(f"the verifying process ended ({child.exitcode})") from None
    finally:
        receiving.close()
        if child.is_alive():
            child.kill()
        child.join()
    kind, value = outcome
    if kind == "reports":
        return list(value)
    if kind == "kyso":
        code, details = value
        raise KysoError(code, details)
    raise VerificationCrashed(value)


def _context() -> SpawnContext | ForkContext | ForkServerContext:
    if sys.platform == "win32":
        return multiprocessing.get_context("spawn")
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
    sending: Connection, document: bytes, trust: TrustStore, seconds: float
) -> None:
    import asyncio
    import logging

    from agent.signing.pdf.verify import verify_pdf

    if not logging.getLogger().handlers:  # a spawned child: pyHanko's tracebacks of each
        logging.getLogger("pyhanko").addHandler(logging.NullHandler())  # refused path stay quiet
    outcome: tuple[str, Any]
    try:
        # The walk's own budget, the same: it stops first with the same code when the walk is
        # the slow part, and the child answers instead of being killed.
        reports = asyncio.run(verify_pdf(document, trust, analysis_seconds=seconds))
        outcome = ("reports", reports)
    except KysoError as exc:
        outcome = ("kyso", (exc.code, dict(exc.details)))
    except Exception as exc:  # the parent raises it as VerificationCrashed, with its name
        outcome = ("crash", f"{type(exc).__name__}: {exc}")
    sending.send(outcome)
    sending.close()


__all__ = ["VerificationCrashed", "verify_pdf_bounded"]
