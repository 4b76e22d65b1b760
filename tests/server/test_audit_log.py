"""The audit trail's log lines under ``tessera serve``'s logging (:func:`tessera.logs.configure`): written straight
to the handler's stream when nothing else would see them, one record each through ``logging`` otherwise; the same
bytes either way, in both formats, and every queued event on the log and in the table after ``close()``."""

import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest

from tessera.logs import FORMAT, configure, fields_record, log_fields
from tessera.server import requestid
from tessera.server.audit import AuditTrail, Event, as_json
from tessera.store import AuditRow, Store

_AT = 1_764_633_600.25  # lines of three seconds, in and out of order
_ENTRIES = [
    (_AT, '"event":"token.issued","user":null,"detail":{"scope":"api"}'),
    (_AT + 0.5, '"event":"a\\u00e9b","user":"z\\"q"'),
    (_AT + 1.999, '"event":"x"'),
    (_AT - 1.0005, '"event":"y"'),
]


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    """:func:`configure`'s logging, writing to a string; the root logger as it was afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    flags = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags


def _configure(log_format: str, stream: io.StringIO) -> None:
    configure("INFO", log_format)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)


class _Seen(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return True


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_direct_lines_are_the_ones_logging_writes(stderr: io.StringIO, log_format: str) -> None:
    _configure(log_format, stderr)
    logger = logging.getLogger("tessera.audit")
    log_fields(logger, logging.INFO, _ENTRIES)
    direct = stderr.getvalue()
    seen = _Seen()
    logger.addFilter(seen)  # something else would see the records: the standard path
    try:
        stderr.seek(0)
        stderr.truncate()
        log_fields(logger, logging.INFO, _ENTRIES)
    finally:
        logger.removeFilter(seen)
    assert len(seen.records) == len(_ENTRIES)
    assert direct == stderr.getvalue()
    lines = direct.splitlines()
    assert len(lines) == len(_ENTRIES)
    if log_format == "text":  # the standard formatter's line, not only ours
        standard = logging.Formatter(FORMAT)
        assert lines == [standard.format(fields_record("tessera.audit", logging.INFO, at, f)) for at, f in _ENTRIES]
        assert json.loads(lines[0].split(" INFO tessera.audit ", 1)[1])["time"] == "2025-12-02T00:00:00.250Z"
    else:
        assert [json.loads(line)["time"] for line in lines] == [
            "2025-12-02T00:00:00.250Z",
            "2025-12-02T00:00:00.750Z",
            "2025-12-02T00:00:02.249Z",
            "2025-12-01T23:59:59.249Z",
        ]
        assert {json.loads(line)["logger"] for line in lines} == {"tessera.audit"}


@pytest.mark.parametrize("where", ["audit handler", "audit filter", "handler filter", "no propagation"])
def test_what_an_operator_adds_still_sees_every_record(stderr: io.StringIO, where: str) -> None:
    _configure("json", stderr)
    logger, root_handler = logging.getLogger("tessera.audit"), logging.getLogger().handlers[0]
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    keep, seen = Keep(), _Seen()
    try:
        if where == "audit handler":
            logger.addHandler(keep)
        elif where == "audit filter":
            logger.addFilter(seen)
        elif where == "handler filter":
            root_handler.addFilter(seen)
        else:
            logger.addHandler(keep)
            logger.propagate = False
        trail = AuditTrail(None)
        trail.start()
        for n in range(5):
            trail.emit(Event.TOKEN_ISSUED, client_id=f"c{n}", detail={"grant_type": "client_credentials"})
        trail.close()
    finally:
        logger.removeHandler(keep)
        logger.propagate = True
        logger.removeFilter(seen)
        root_handler.removeFilter(seen)
    records = kept if where in ("audit handler", "no propagation") else seen.records
    assert [json.loads(r.getMessage())["client_id"] for r in records] == [f"c{n}" for n in range(5)]
    on_stderr = [json.loads(line)["client_id"] for line in stderr.getvalue().splitlines()]
    assert on_stderr == ([] if where == "no propagation" else [f"c{n}" for n in range(5)])


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_every_queued_event_reaches_the_log_and_the_table_at_close(
    stderr: io.StringIO, store: Store, log_format: str
) -> None:
    """Events queued by many requests, some fields NULL and some not, in any mix: at ``close()`` every one is one
    line on stderr and one row, with the same fields, in order."""
    _configure(log_format, stderr)
    trail = AuditTrail(store.audit)
    trail.start()
    for n in range(150):  # more than one statement's worth of rows, of several shapes
        token = requestid.entered(requestid.RequestInfo(f"r-{n}", None if n % 4 else "10.0.0.1"))
        try:
            trail.emit(
                Event.SIGN_IN_FAILED if n % 3 else Event.TOKEN_ISSUED,
                outcome="failure" if n % 3 else "success",
                client_id=None if n % 2 else f"client-{n}",
                user=None if n % 5 else f"user-{n}",
                reason=None if n % 7 else "wrong password",
                detail=None if n % 6 else {"grant_type": "client_credentials", "n": n},
            )
        finally:
            requestid.left(token)
    assert store.audit.list() == []  # queued: nothing written yet
    trail.close()
    rows = [as_json(row) for row in reversed(store.audit.list(limit=1000))]
    assert [row["request_id"] for row in rows] == [f"r-{n}" for n in range(150)]
    assert rows[6]["detail"] == {"grant_type": "client_credentials", "n": 6}
    assert rows[5]["user"] == "user-5" and rows[0]["address"] == "10.0.0.1" and rows[1]["address"] is None
    lines = stderr.getvalue().splitlines()
    if log_format == "text":
        logged = [json.loads(line.split(" INFO tessera.audit ", 1)[1]) for line in lines]
    else:
        logged = [{k: v for k, v in json.loads(line).items() if k not in ("level", "logger")} for line in lines]
    assert logged == rows


def test_a_row_keeps_every_value_whatever_else_is_null(db_store: Store) -> None:
    def value(n: int, bit: int) -> str | None:
        return None if n >> bit & 1 else f"v{n}-{bit}"

    rows: list[AuditRow] = [
        (1000.0 + n, "e", "success", value(n, 0), value(n, 1), value(n, 2), value(n, 3), value(n, 4),
         None if n % 3 else json.dumps({"n": n}))
        for n in range(100)
    ]  # fmt: skip
    db_store.audit.add(rows)  # several statements of each shape, on each database
    read = [dataclasses.astuple(row) for row in reversed(db_store.audit.list(limit=1000))]
    assert read == [(*row[:8], None if row[8] is None else json.loads(row[8])) for row in rows]
