"""A thread that does, every few tenths of a second, what the request path only queued.

The access line, the audit trail and the metrics each let a request append to a queue and leave the work (log
records, database rows, counter updates) to one thread per worker process: :class:`Periodic` is that thread. Its
owner drains the queue once more after :meth:`Periodic.stop`, so a worker that stops gracefully loses nothing.
"""

import threading
from collections.abc import Callable

__all__ = ["Periodic"]


class Periodic:
    """Calls ``work`` every ``interval`` seconds, in a daemon thread named ``name``, from :meth:`start` until
    :meth:`stop`."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._work = work
        self._name = name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, interval: float) -> None:
        """Start the thread (once: a second call while it runs does nothing)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(interval,), name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it; the owner then does what is left in its own thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._work()
