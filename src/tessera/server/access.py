"""The access line: one per request, machine route or page alike, on the ``tessera.access`` logger at INFO::

    request method=POST path=/oauth/introspect status=200 duration_ms=0.42 client_id=Zx3...

Never a token, a secret or a query string (a callback's query carries a code). Each record also carries its
fields (and the request id) as ``record.tessera``, which ``TESSERA_LOG_FORMAT=json`` writes as they are
(:mod:`tessera.logs`). The same call counts the request's endpoint, status and duration in the metrics
(:meth:`tessera.server.metrics.Metrics.request`), where those facts are known.

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
import time

from tessera.logs import batch
from tessera.server.metrics import Metrics
from tessera.server.periodic import Periodic

__all__ = ["AccessLog"]

_FORMAT = "request method=%s path=%s status=%d duration_ms=%.2f client_id=%s"
_Entry = tuple[float, str, str, int, float, str, str | None]


class AccessLog:
    """Call it once per request with what the request was and how it ended."""

    def __init__(
        self, logger: logging.Logger | None = None, *, interval: float = 0.1, metrics: Metrics | None = None
    ) -> None:
        self.logger = logger or logging.getLogger("tessera.access")
        self.metrics = metrics or Metrics.off()
        self._interval = interval
        self._queue: collections.deque[_Entry] = collections.deque()
        self._writer = Periodic(self._drain, "tessera-access-log")

    def __call__(
        self,
        method: str,
        path: str,
        status: int,
        started: float,
        client_id: str | None,
        request_id: str | None = None,
    ) -> None:
        seconds = time.perf_counter() - started
        self.metrics.request(path, status, seconds)
        duration_ms = seconds * 1000
        if self._writer.running:
            self._queue.append((time.time(), method, path, status, duration_ms, client_id or "-", request_id))
        elif self.logger.isEnabledFor(logging.INFO):
            args = (method, path, status, duration_ms, client_id or "-")
            self.logger.info(_FORMAT, *args, extra={"tessera": _fields(*args, request_id)})

    def start(self) -> None:
        """Queue lines from now on, for a writer thread to write."""
        self._writer.start(self._interval)

    def close(self) -> None:
        """Stop queueing and write every line still queued."""
        self._writer.stop()
        self._drain()

    def _drain(self) -> None:
        logger, queue = self.logger, self._queue
        enabled = logger.isEnabledFor(logging.INFO)
        # the batch's first record is made by the logger; the others are copies of it with their own time, values
        # and fields (LogRecord() looks up the time, the thread, the process and the file's name each time, which
        # are the same for every record a drain writes: it runs in one thread of one process)
        made: dict[str, object] | None = None
        with batch():
            while queue:
                at, method, path, status, duration_ms, client_id, request_id = queue.popleft()
                if enabled:
                    args = (method, path, status, duration_ms, client_id)
                    fields = _fields(*args, request_id)
                    if made is None:
                        record = logger.makeRecord(
                            logger.name, logging.INFO, __file__, 0, _FORMAT, args, None, extra={"tessera": fields}
                        )
                        made = dict(record.__dict__)
                    else:
                        record = logging.LogRecord.__new__(logging.LogRecord)
                        record.__dict__.update(made)
                        record.args, record.tessera = args, fields
                    record.created, record.msecs = at, (at % 1) * 1000
                    logger.handle(record)


def _fields(
    method: str, path: str, status: int, duration_ms: float, client_id: str, request_id: str | None
) -> dict[str, object]:
    return {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "client_id": None if client_id == "-" else client_id,
        "request_id": request_id,
    }
