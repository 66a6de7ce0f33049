"""Calls into a pystray icon that may block, kept off the agent's event loop.

pystray's X11 backend runs a call made from another thread (a new title, ``stop``) by posting
it to the icon's own thread and waiting, without a timeout, for the answer. python-xlib can
deadlock that icon thread when two threads use its display at once (seen when the tray host
was restarted while the icon was being stopped), and then the caller waits forever. So every
such call goes through one small daemon thread per icon: the event loop only queues work, and
``stop`` is awaited for a bounded time, after which the stuck icon is left behind and a fresh
one (with a fresh worker) can be started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


class IconCalls:
    """One daemon thread making an icon's calls in order; a newer call under the same key
    replaces one still waiting (only the latest menu and title matter)."""

    def __init__(self, name: str = "kyso-tray-calls") -> None:
        """Start the worker thread."""
        self._cond = threading.Condition()
        self._pending: dict[Hashable, Callable[[], None]] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: Hashable, call: Callable[[], object]) -> threading.Event:
        """Queue ``call``; the returned event is set once it has run (or failed, logged)."""
        done = threading.Event()

        def run() -> None:
            try:
                call()
            except Exception as exc:  # a backend without titles, menus or notifications
                log.debug("tray call %r failed: %s", key, exc)
            finally:
                done.set()

        with self._cond:
            if self._closed:
                done.set()
                return done
            self._pending.pop(key, None)  # re-inserted last: the newer call keeps its turn
            self._pending[key] = run
            self._cond.notify()
        return done

    def close(self) -> None:
        """Let the worker end once the calls already queued have run."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                key = next(iter(self._pending))
                call = self._pending.pop(key)
            call()
