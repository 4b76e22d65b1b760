"""How Tessera's processes write their logs on stderr: ``TESSERA_LOG_FORMAT=text`` (the default, one readable
line per record) or ``json`` (one JSON object per line, for a log pipeline).

A JSON line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and ``message``; a record that
carries structured fields (``record.tessera``: the access line, audit events) has those fields instead of the
message::

    {"time": "2026-12-02T01:02:03.456Z", "level": "INFO", "logger": "tessera.access", "method": "POST",
     "path": "/oauth/token", "status": 200, "duration_ms": 1.93, "client_id": "Zx3...", "request_id": "5f1c..."}

An exception's traceback is one string in ``exception``: never a line of its own. Every logger writes this way
once :func:`configure` ran (``tessera serve`` and ``tessera demo`` call it), granian's own messages included
(:func:`formatter_factory` is what its logging configuration names).

The writer threads that log what requests queued (the access line, audit events) write a batch of records
inside :func:`batch`: stderr is flushed once at its end rather than after each record.

A record may carry its fields already encoded instead (``record.tessera_json``: the members after ``time``, as
JSON text without the braces), as audit events do: they are written as they are, with no ``dict`` built or
encoded again (:func:`encoded_record`).
"""

import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "FORMAT",
    "JsonFormatter",
    "StderrHandler",
    "TextFormatter",
    "batch",
    "configure",
    "encoded_record",
    "formatter_factory",
    "iso_time",
    "json_string",
]

#: the text format, as before JSON existed
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

#: a str as JSON text, as ``json.dumps`` writes it (its C encoder, ASCII only)
json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_second: tuple[int, str] = (-1, "")  # the last second iso_time formatted, and its text


_MILLISECONDS = tuple(f".{ms:03d}Z" for ms in range(1000))


def iso_time(at: float) -> str:
    """``at`` (Unix seconds) as UTC ISO 8601 with milliseconds, ``2026-12-02T01:02:03.456Z``. The text of the
    second is kept (records come many to a second, and ``strftime`` is most of the cost), the milliseconds' looked
    up."""
    global _second
    second = int(at)
    last, text = _second
    if second != last:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return text + _MILLISECONDS[int(at % 1 * 1000)]


class TextFormatter(logging.Formatter):
    """:data:`FORMAT`'s readable line, as :class:`logging.Formatter` writes it, made with less of its machinery: the
    fields put in by hand, and the text of ``asctime``'s second kept (the access line and audit events come many
    to a second). A record with an exception or a stack goes through :class:`logging.Formatter` as it is."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        record.message = message = record.getMessage()
        record.asctime = asctime = self.formatTime(record)
        return f"{asctime} {record.levelname} {record.name} {message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        last, text = self._second
        if second != last:
            text = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, text)
        return f"{text},{int(record.msecs):03d}"  # default_msec_format


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        encoded = getattr(record, "tessera_json", None)
        if encoded is not None and not record.exc_info and not record.exc_text:
            return (
                f'{{"time":"{iso_time(record.created)}","level":{json_string(record.levelname)},'
                f'"logger":{json_string(record.name)},{encoded}}}'
            )
        out: dict[str, Any] = {"time": iso_time(record.created), "level": record.levelname, "logger": record.name}
        fields = getattr(record, "tessera", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, separators=(",", ":"), default=str)


def formatter_factory(log_format: str = "text") -> logging.Formatter:
    """The formatter for ``log_format`` (for ``logging.config.dictConfig``'s ``"()"``)."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


_started = logging.LogRecord("", 0, "", 0, "", None, None)
_START = _started.created - _started.relativeCreated / 1000  # when logging was loaded, as relativeCreated counts
_prototypes: dict[tuple[str, int], dict[str, Any]] = {}


def encoded_record(name: str, level: int, at: float, message: str, encoded: str) -> logging.LogRecord:
    """A record for logger ``name`` made at ``at`` (Unix seconds), whose message is ``message`` and whose fields
    are ``encoded`` (``record.tessera_json``: what the JSON format writes after ``time``, ``level`` and
    ``logger``). It is a :class:`logging.LogRecord` with every attribute, copied from one made once per logger
    and level, with no thread or process (no formatter here shows them, and a record made ahead of time would
    name the wrong ones): ``LogRecord()`` itself costs several times as much, looking up the caller's file, the
    time, the thread and the process."""
    prototype = _prototypes.get((name, level))
    if prototype is None:
        made = logging.LogRecord(name, level, __file__, 0, "", None, None)
        made.thread = made.threadName = made.process = made.processName = None
        prototype = _prototypes[name, level] = dict(made.__dict__)
    record = logging.LogRecord.__new__(logging.LogRecord)
    fields = record.__dict__
    fields.update(prototype)
    fields["created"] = at
    fields["msecs"] = int((at - int(at)) * 1000) + 0.0  # as LogRecord does
    fields["relativeCreated"] = (at - _START) * 1000
    fields["msg"] = message  # as it is: no args, no %-formatting
    fields["args"] = None
    fields["tessera_json"] = encoded
    return record


_batching = threading.local()


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A :class:`logging.StreamHandler` that leaves the flush to the end of a :func:`batch` when the record is
    written inside one (a ``write`` system call per record was a fifth of a log line's cost)."""

    def flush(self) -> None:
        if not getattr(_batching, "on", False):
            super().flush()


@contextlib.contextmanager
def batch() -> Iterator[None]:
    """Records this thread writes inside are flushed to stderr at the end, together (see :class:`StderrHandler`);
    other threads' records are flushed as usual, and flush this thread's with theirs."""
    _batching.on = True
    try:
        yield
    finally:
        _batching.on = False
        for handler in logging.getLogger().handlers:
            if isinstance(handler, StderrHandler):
                handler.flush()


def configure(level: str, log_format: str) -> None:
    """Every record at ``level`` and above on stderr, in ``log_format``: the root logger's one handler.

    Neither format shows a record's thread or process, so records stop looking them up (a few microseconds of
    every access line and audit event, measured with ``bench/ops_inproc.py``)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = StderrHandler(sys.stderr)
    handler.setFormatter(formatter_factory(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
