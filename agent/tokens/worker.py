"""A dedicated thread per PKCS#11 module: every call into the module runs there, in order.

python-pkcs11 initialises modules without OS locking, and SoftHSM2 was seen to crash when two
threads signed at once, so one thread owns each module. Calls queue first-in, first-out, which
keeps them fair; asyncio code awaits the result without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_STOP = object()


class ModuleWorker:
    """Runs submitted callables one at a time on its own thread."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=f"pkcs11:{name}", daemon=True)
        self._closed = False
        self._thread.start()

    def _loop(self) -> None:
        get = self._queue.get  # bound once: this loop runs for every PKCS#11 call
        while True:
            item = get()
            if item is _STOP:
                return
            fn, args, loop, future = item
            try:
                result = fn(*args)
            except BaseException as exc:  # delivered to the awaiting coroutine
                _deliver(loop, _set_exception, future, exc)
            else:
                _deliver(loop, _set_result, future, result)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the module's thread and await its result."""
        if self._closed:
            raise RuntimeError("PKCS#11 worker is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, loop, future))
        return await future

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` without waiting for it (clean-up nobody awaits); errors are
        logged."""
        if not self._closed:
            self._queue.put((_run_logged, (fn, *args), _NullLoop(), None))

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the module's thread from synchronous code (start-up, shutdown)."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["result"] = fn(*args)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        self._queue.put((_run_plain, (call,), _NullLoop(), None))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["result"]

    @property
    def thread(self) -> threading.Thread:
        """The thread that owns the module (tests assert calls land here)."""
        return self._thread

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after the calls already queued have run."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)


def _run_plain(call: Callable[[], None]) -> None:
    call()


def _run_logged(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.warning("background PKCS#11 call %s failed", getattr(fn, "__name__", fn), exc_info=True)


class _NullLoop:
    """Stands in for an event loop when a synchronous caller waits on an Event instead."""

    def call_soon_threadsafe(self, *_: Any) -> None:
        return None


def _deliver(loop: Any, setter: Callable[..., None], future: Any, value: Any) -> None:
    # The caller's event loop may be gone (asyncio.run() returned while a call was queued);
    # nobody awaits that result any more, and the thread must live on for the other callers.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(setter, future, value)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)
