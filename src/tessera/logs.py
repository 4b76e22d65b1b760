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
"""

import datetime
import json
import logging
import sys
from typing import Any

__all__ = ["FORMAT", "JsonFormatter", "configure", "formatter_factory"]

#: the text format, as before JSON existed
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _iso(record.created), "level": record.levelname, "logger": record.name}
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
    return JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT)


def configure(level: str, log_format: str) -> None:
    """Every record at ``level`` and above on stderr, in ``log_format``: the root logger's one handler.

    Neither format shows a record's thread or process, so records stop looking them up (a few microseconds of
    every access line and audit event, measured with ``bench/ops_inproc.py``)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_factory(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
