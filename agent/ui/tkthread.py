"""One thread owns Tk; asyncio awaits its dialogs through futures.

tkinter is not thread-safe: every Tk call must come from the thread that created the
interpreter, and the interpreter must also be freed by that thread (else Tcl aborts the process:
"Tcl_AsyncDelete: async handler deleted by the wrong thread"). So one Tk interpreter lives on a
dedicated thread for the prompter's whole life, and each dialog is a window of its own on it. The agent's event loop must keep serving other connections while a dialog is open.
So a dedicated daemon thread takes dialog jobs from a queue, shows each in its own top-level window, and
hands the answer back with ``loop.call_soon_threadsafe``. Dialogs are shown one at a time, in
the order they were asked for; a job cancelled before its turn is never shown.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

POLL_MS = 100  # how often the Tk thread looks for a cancellation from the asyncio side


class Outcome:
    """Sentinels for results that are not an answer."""

    TIMEOUT = object()
    CANCELLED = object()  # the asyncio side gave up (client gone, agent stopping)


# build(root, finish) creates the widgets of one dialog in ``root`` and calls finish(value) once.
Builder = Callable[[Any, Callable[[Any], None]], None]


@dataclass
class _Job:
    build: Builder
    timeout_seconds: float | None
    deliver: Callable[[Any, BaseException | None], None]  # called on the Tk thread when done
    cancelled: threading.Event = field(default_factory=threading.Event)


class UiThread:
    """The Tk-owning thread. Start it once; submit dialogs from any event loop."""

    def __init__(self, name: str = "kyso-ui") -> None:
        """Create the thread (started on first use)."""
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._started:
                self._thread.start()
                self._started = True
                # Tk must be torn down by its own thread, before the interpreter exits.
                atexit.register(self.stop, 2.0)

    def probe(self, timeout: float = 15.0) -> None:
        """Open and close a hidden Tk root on the UI thread; raises what Tk raised (no display)."""
        self._ensure_started()
        done = threading.Event()
        errors: list[BaseException] = []

        def build(root: Any, finish: Callable[[Any], None]) -> None:
            root.withdraw()
            finish(None)

        def deliver(_value: Any, exc: BaseException | None) -> None:
            if exc is not None:
                errors.append(exc)
            done.set()

        self._jobs.put(_Job(build, None, deliver))
        if not done.wait(timeout):
            raise TimeoutError("the UI thread did not answer")
        if errors:
            raise errors[0]

    async def run(self, build: Builder, *, timeout_seconds: float | None) -> Any:
        """Show one dialog and return what it finished with (or an :class:`Outcome` sentinel).

        Cancelling the awaiting task closes the dialog (or drops it if not shown yet).
        """
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def apply(value: Any, exc: BaseException | None) -> None:
            if future.done():
                return
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(value)

        def deliver(value: Any, exc: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(apply, value, exc)

        job = _Job(build, timeout_seconds, deliver)
        self._jobs.put(job)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            job.cancelled.set()
            raise

    def stop(self, wait: float = 0.0) -> None:
        """Let the thread end after the current dialog (waiting up to ``wait`` seconds)."""
        self._jobs.put(None)
        if wait and self._started:
            self._thread.join(wait)

    # --- the Tk thread ------------------------------------------------------------------

    def _main(self) -> None:
        import tkinter

        root: tkinter.Tk | None = None
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                if job.cancelled.is_set():
                    job.deliver(Outcome.CANCELLED, None)
                    continue
                try:
                    if root is None:
                        # One interpreter for the thread's whole life, created and destroyed
                        # here: Tcl must never be touched (or freed) by another thread.
                        root = tkinter.Tk(className="Kyso")
                        root.withdraw()
                    value = self._show(root, job)
                    # Free this dialog's widgets and variables here, on the Tk thread: their
                    # finalisers call Tcl, which must not happen from another thread's GC.
                    gc.collect()
                except BaseException as exc:  # report Tk errors to the awaiting side
                    log.warning("dialog failed: %s", exc)
                    job.deliver(None, exc)
                else:
                    job.deliver(value, None)
        finally:
            if root is not None:
                with contextlib.suppress(Exception):
                    root.destroy()
            del root
            gc.collect()

    def _show(self, root: Any, job: _Job) -> Any:
        import tkinter

        window = tkinter.Toplevel(root)
        result: list[Any] = []

        def finish(value: Any) -> None:
            if not result:
                result.append(value)
                root.quit()

        def poll() -> None:
            if job.cancelled.is_set():
                finish(Outcome.CANCELLED)
            elif not result:
                root.after(POLL_MS, poll)

        try:
            job.build(window, finish)
            if job.timeout_seconds is not None:
                root.after(max(1, int(job.timeout_seconds * 1000)), lambda: finish(Outcome.TIMEOUT))
            root.after(POLL_MS, poll)
            if not result:
                root.mainloop()
        finally:
            # Nothing of this dialog may fire later: cancel its timers, then close it.
            with contextlib.suppress(tkinter.TclError):
                for after_id in root.tk.splitlist(root.tk.call("after", "info")):
                    root.after_cancel(after_id)
            with contextlib.suppress(tkinter.TclError):
                window.withdraw()
                window.destroy()
                # Tk only sends the unmap/destroy to the X server when its event loop runs
                # again, and this thread now sleeps on the job queue: without this the dead
                # window stays on screen, half drawn, until the next prompt.
                root.update_idletasks()
                root.update()
        return result[0] if result else Outcome.CANCELLED
