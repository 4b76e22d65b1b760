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
encoded again (:func:`fields_record`). :func:`log_fields` logs a batch of those; when nothing but the handler
:func:`configure` installed would see them, it writes their lines in one go without making the records.
"""

import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "FORMAT",
    "Fields",
    "JsonFormatter",
    "StderrHandler",
    "TextFormatter",
    "batch",
    "configure",
    "fields_record",
    "formatter_factory",
    "iso_time",
    "json_string",
    "log_fields",
]

#: the text format, as before JSON existed
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

#: a str as JSON text, as ``json.dumps`` writes it (its C encoder, ASCII only)
json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_second: tuple[int, str] = (-1, "")  # the last second iso_time formatted, and its text


_MILLISECONDS = tuple(f".{ms:03d}Z" for ms in range(1000))
_MSECS = tuple(f",{ms:03d}" for ms in range(1000))  # default_msec_format's
_UTC_SECOND = "%Y-%m-%dT%H:%M:%S"


def iso_time(at: float) -> str:
    """``at`` (Unix seconds) as UTC ISO 8601 with milliseconds, ``2026-12-02T01:02:03.456Z``. The text of the
    second is kept (records come many to a second, and ``strftime`` is most of the cost), the milliseconds' looked
    up."""
    global _second
    second = int(at)
    last, text = _second
    if second != last:
        text = time.strftime(_UTC_SECOND, time.gmtime(second))
        _second = (second, text)
    return text + _MILLISECONDS[int(at % 1 * 1000)]


#: what :func:`log_fields` logs a record of: when (Unix seconds), and the record's fields after ``time`` as JSON
#: text without the braces (``"event":"token.issued","user":null``)
Fields = tuple[float, str]


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

    def field_lines(self, name: str, levelname: str, entries: Sequence[Fields]) -> list[str]:
        """What :meth:`format` writes for each record :func:`fields_record` makes of ``name``, ``levelname`` and
        an entry: its message is the JSON object of the time and the fields."""
        lines: list[str] = []
        append, local, utc, converter = lines.append, self.default_time_format, _UTC_SECOND, self.converter
        middle = f" {levelname} {name} " + '{"time":"'
        last, asctime, iso = -1, "", ""
        for at, fields in entries:
            second = int(at)
            if second != last:
                last = second
                asctime, iso = time.strftime(local, converter(second)), time.strftime(utc, time.gmtime(second))
            ms = int((at - second) * 1000)
            append(f'{asctime}{_MSECS[ms]}{middle}{iso}{_MILLISECONDS[ms]}",{fields}}}')
        return lines


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

    def field_lines(self, name: str, levelname: str, entries: Sequence[Fields]) -> list[str]:
        """What :meth:`format` writes for each record :func:`fields_record` makes of ``name``, ``levelname`` and
        an entry."""
        lines: list[str] = []
        append, utc = lines.append, _UTC_SECOND
        middle = f'","level":{json_string(levelname)},"logger":{json_string(name)},'
        last, iso = -1, ""
        for at, fields in entries:
            second = int(at)
            if second != last:
                last, iso = second, '{"time":"' + time.strftime(utc, time.gmtime(second))
            append(f"{iso}{_MILLISECONDS[int((at - second) * 1000)]}{middle}{fields}}}")
        return lines


def formatter_factory(log_format: str = "text") -> logging.Formatter:
    """The formatter for ``log_format`` (for ``logging.config.dictConfig``'s ``"()"``)."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


_started = logging.LogRecord("", 0, "", 0, "", None, None)
_START = _started.created - _started.relativeCreated / 1000  # when logging was loaded, as relativeCreated counts
_prototypes: dict[tuple[str, int], dict[str, Any]] = {}


def fields_record(name: str, level: int, at: float, fields: str) -> logging.LogRecord:
    """A record for logger ``name`` made at ``at`` (Unix seconds) whose fields after ``time`` are ``fields`` (JSON
    text without the braces: ``record.tessera_json``, what the JSON format writes after ``time``, ``level`` and
    ``logger``) and whose message is the JSON object of ``time`` and the fields (what the text format shows).
    It is a :class:`logging.LogRecord` with every attribute, copied from one made once per logger and level, with
    no thread or process (no formatter here shows them, and a record made ahead of time would name the wrong
    ones): ``LogRecord()`` itself costs several times as much, looking up the caller's file, the time, the thread
    and the process."""
    prototype = _prototypes.get((name, level))
    if prototype is None:
        made = logging.LogRecord(name, level, __file__, 0, "", None, None)
        made.thread = made.threadName = made.process = made.processName = None
        prototype = _prototypes[name, level] = dict(made.__dict__)
    record = logging.LogRecord.__new__(logging.LogRecord)
    attributes = record.__dict__
    attributes.update(prototype)
    attributes["created"] = at
    attributes["msecs"] = int((at - int(at)) * 1000) + 0.0  # as LogRecord does
    attributes["relativeCreated"] = (at - _START) * 1000
    attributes["msg"] = f'{{"time":"{iso_time(at)}",{fields}}}'  # as it is: no args, no %-formatting
    attributes["args"] = None
    attributes["tessera_json"] = fields
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


_OURS = (TextFormatter, JsonFormatter)


def _sole_handler(logger: logging.Logger, level: int) -> StderrHandler | None:
    """The :class:`StderrHandler` that a record of ``level`` on ``logger`` would reach, when it is the only thing
    that would see the record: ``None`` otherwise (see :func:`log_fields`)."""
    if type(logger) is not logging.Logger or logger.disabled or not logger.isEnabledFor(level):
        return None
    found: StderrHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if found is not None or type(handler) is not StderrHandler:
                return None
            found = handler
        current = current.parent if current.propagate else None
    if found is None or found.filters or level < found.level or type(found.formatter) not in _OURS:
        return None
    return found


def log_fields(logger: logging.Logger, level: int, entries: Sequence[Fields]) -> None:
    """Log one record per entry, the one :func:`fields_record` makes of it, as ``logger.handle`` would: the same
    lines, in order, and every handler and filter sees every record.

    **The direct path.** When those records would reach nothing but a :class:`StderrHandler` (what
    :func:`configure` installs) with one of our formatters, no record is made: the lines that formatter would
    write, byte for byte, go to the handler's stream in one ``write`` and one flush, under the handler's lock.
    That is the case when, from ``logger`` up the loggers it propagates to, there is no filter on any of them,
    exactly one handler in all (that ``StderrHandler``, not a subclass), no filter on it, and its level and the
    logger's let ``level`` through; and ``logger`` is a plain :class:`logging.Logger`, not disabled. Anything
    else (a handler or filter an operator or a test added anywhere on the way, ``propagate`` turned off with a
    handler of one's own, another formatter) takes the standard path, one record through ``logger.handle`` each.
    Decided once per call, from the loggers' state at that moment. The record costs several times its line
    (``Logger.handle``: the checks, the lock, the formatter; the record copied from its prototype)."""
    if not entries:
        return
    name = logger.name
    handler = _sole_handler(logger, level)
    if handler is None:
        handle = logger.handle
        with batch():
            for at, fields in entries:
                handle(fields_record(name, level, at, fields))
        return
    formatter = handler.formatter
    assert isinstance(formatter, _OURS)
    terminator = handler.terminator
    text = terminator.join(formatter.field_lines(name, logging.getLevelName(level), entries)) + terminator
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.flush()
    except RecursionError:  # as logging.StreamHandler.emit does
        raise
    except Exception:
        handler.handleError(fields_record(name, level, *entries[0]))
    finally:
        handler.release()


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
