"""The text log format: the line ``logging.Formatter(FORMAT)`` writes, whatever the record carries."""

import logging
import sys

from tessera.logs import FORMAT, TextFormatter


def _record(msg: str, args: tuple[object, ...], *, at: float, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("tessera.access", logging.WARNING, __file__, 1, msg, args, exc_info)
    record.created, record.msecs = at, (at - int(at)) * 1000
    return record


def test_the_text_line_is_loggings_own_line() -> None:
    ours, theirs = TextFormatter(), logging.Formatter(FORMAT)
    for at in (1_764_633_600.0, 1_764_633_600.999, 1_764_633_601.5, 1_764_633_600.25):  # a second, back again
        for exc in (False, True):
            record = _record("request path=%s status=%d", ("/oauth/token", 200), at=at, exc=exc)
            line = ours.format(record)
            assert line == theirs.format(_record("request path=%s status=%d", ("/oauth/token", 200), at=at, exc=exc))
            assert "WARNING tessera.access request path=/oauth/token status=200" in line
            assert ("ValueError: boom" in line) is exc
