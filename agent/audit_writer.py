"""The audit log's writer thread: records written for the event loop, in order, several that
wait together with one fsync (see :class:`agent.audit.AuditLog`, which starts it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the log starts its writer; the writer only calls it back
    from agent.audit import AuditLog

log = logging.getLogger("agent.audit")

STOP = object()
CHECK = object()  # in place of a record: answer unavailable() on the log's thread
MAX_GROUP = 64  # records written with one fsync at most


class Writer:
    """The thread that writes an :class:`AuditLog`'s records for the event loop, in order."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="kyso-audit", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        get, get_nowait = self.queue.get, self.queue.get_nowait
        while True:
            item = get()
            if item is STOP:
                return
            batch, checks = ([], [item]) if item[0] is CHECK else ([item], [])
            stop = False
            # Whatever else is waiting goes in the same append (one fsync for all of them).
            while batch and len(batch) < MAX_GROUP:
                try:
                    more = get_nowait()
                except queue.Empty:
                    break
                if more is STOP:
                    stop = True
                    break
                (checks if more[0] is CHECK else batch).append(more)
            if batch:
                try:
                    ok = self.audit.write_many([record for record, _, _ in batch])
                except Exception:  # never leave a request waiting for its record
                    log.exception("could not write the audit log %s", self.audit.path)
                    ok = False
                _answer(batch, ok)
            if checks:  # after the records that came first: they may be the retry it needs
                try:
                    unavailable = self.audit.unavailable()
                except Exception:
                    log.exception("could not check the audit log %s", self.audit.path)
                    unavailable = True
                _answer(checks, unavailable)
            if stop:
                return

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        self.queue.put(STOP)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)


def _answer(items: list[Any], value: bool) -> None:
    for _, loop, future in items:
        # The loop may be gone (it stopped while an item was queued): nobody waits.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, future, value)


def _resolve(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.cancelled():  # the request went away; the record is written all the same
        future.set_result(ok)
