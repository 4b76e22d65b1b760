"""The access line: one per request, machine route or page alike, on the ``tessera.access`` logger at INFO::

    request method=POST path=/oauth/introspect status=200 duration_ms=0.42 client_id=Zx3...

Never a token, a secret or a query string (a callback's query carries a code).

:class:`AccessLog` writes it in one of two ways. At once, in the thread that answered the request: what the
tests, the demo and any WSGI server get. Or queued (:meth:`AccessLog.start`, what ``tessera serve`` does): the
request only appends a tuple, and a writer thread makes the log records a moment later, in order, each timed
when its request ended. Measured under load (``bench/``): making and writing a record in every request thread
cost 15-25 % of an introspection, most of it threads queueing for the handler's lock and the GIL around each
line's write; queued, the request pays well under a microsecond. :meth:`AccessLog.close` writes whatever is
still queued, so stopping a worker loses no line.
"""

import collections
import logging
import threading
import time

__all__ = ["AccessLog"]

_FORMAT = "request method=%s path=%s status=%d duration_ms=%.2f client_id=%s"
_Entry = tuple[float, str, str, int, float, str]


class AccessLog:
    """Call it once per request with what the request was and how it ended."""

    def __init__(self, logger: logging.Logger | None = None, *, interval: float = 0.1) -> None:
        self.logger = logger or logging.getLogger("tessera.access")
        self._interval = interval
        self._queue: collections.deque[_Entry] = collections.deque()
        self._writer: threading.Thread | None = None
        self._stop = threading.Event()

    def __call__(self, method: str, path: str, status: int, started: float, client_id: str | None) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        if self._writer is not None:
            self._queue.append((time.time(), method, path, status, duration_ms, client_id or "-"))
        elif self.logger.isEnabledFor(logging.INFO):
            self.logger.info(_FORMAT, method, path, status, duration_ms, client_id or "-")

    def start(self) -> None:
        """Queue lines from now on, for a writer thread to write."""
        if self._writer is None:
            self._stop.clear()
            self._writer = threading.Thread(target=self._write_queued, name="tessera-access-log", daemon=True)
            self._writer.start()

    def close(self) -> None:
        """Stop queueing and write every line still queued."""
        writer, self._writer = self._writer, None
        if writer is not None:
            self._stop.set()
            writer.join()
        self._drain()

    def _write_queued(self) -> None:
        while not self._stop.wait(self._interval):
            self._drain()

    def _drain(self) -> None:
        logger, queue = self.logger, self._queue
        enabled = logger.isEnabledFor(logging.INFO)
        while queue:
            at, method, path, status, duration_ms, client_id = queue.popleft()
            if enabled:
                args = (method, path, status, duration_ms, client_id)
                record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, _FORMAT, args, None)
                record.created, record.msecs = at, (at % 1) * 1000
                logger.handle(record)
