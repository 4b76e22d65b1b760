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


def test_iso_time_is_utc_with_milliseconds() -> None:
    import time

    from tessera.logs import iso_time

    for at in (0.0, 1_764_633_600.0, 1_764_633_600.0005, 1_764_633_600.999, 1_764_633_601.5, 1_764_633_600.25):
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(at))) + f".{int(at % 1 * 1000):03d}Z"
        assert iso_time(at) == expected
    assert iso_time(1_764_633_600.25) == "2025-12-02T00:00:00.250Z"
