"""Engines: SQLite (WAL, foreign keys, writers queue instead of failing) or PostgreSQL through psycopg 3.

Write transactions on SQLite start with ``BEGIN IMMEDIATE``, so two writers queue on the lock rather than one
failing with "database is locked" half-way through; reads never block writers under WAL.

Every read in :class:`~tessera.store.Store` is a single statement, which is atomic and sees one snapshot on its
own, so reads run without a transaction around them (:func:`reader`): no ``BEGIN`` before the ``SELECT`` and
no ``ROLLBACK`` when the connection goes back to the pool. On PostgreSQL that saves two round trips per read.
The hottest statements skip ``Connection`` altogether: see :mod:`tessera.store.raw`.

PostgreSQL connections that died while idle in the pool (the server restarted, a proxy or firewall reset them)
are noticed at checkout without a round trip: see :func:`_drop_dead_connections`.
"""

import select
import threading
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool

__all__ = ["StatementCounter", "make_engine", "reader", "WRITE"]

#: execution option marking a connection whose transaction writes
WRITE = {"tessera_write": True}
_READ = {"tessera_read": True}


class StatementCounter:
    """Counts SQL statements per process (bench-only: ``TESSERA_BENCH_COUNT_SQL=1``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, *args: Any) -> None:
        with self._lock:
            self.count += 1


def make_engine(url: str, *, counter: StatementCounter | None = None, pool_size: int = 5) -> Engine:
    """An engine for ``url``, configured for Tessera's access pattern. On PostgreSQL each process keeps up to
    ``pool_size`` connections open, and opens up to twice as many more for a burst."""
    parsed = make_url(url)
    engine: Engine
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
        )
        _configure_sqlite(engine, wal=not memory)
    else:
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            pool_recycle=1800,
            pool_timeout=10,
            # a database that accepts no connection answers 503 in seconds, not after the OS gives up
            connect_args={"connect_timeout": 5},
        )
        event.listen(engine, "checkout", _drop_dead_connections)
    if counter is not None:
        event.listen(engine, "before_cursor_execute", counter)
    return engine


def reader(engine: Engine) -> Engine:
    """The same engine and pool, for single-statement reads outside any transaction."""
    if engine.dialect.name == "sqlite":
        # the driver is in autocommit mode already (see _configure_sqlite): just emit no BEGIN
        return engine.execution_options(**_READ)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _drop_dead_connections(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection whose socket the server has closed, so the pool opens a new one.

    An idle PostgreSQL connection has nothing to read; if its socket is readable, the server sent a FATAL
    before going away, or the connection was reset. Without this the first request after the database comes
    back would fail on a dead connection (and only then invalidate the pool). ``pool_pre_ping`` would find the
    same with one ``SELECT 1`` round trip per checkout on the hot path; one non-blocking ``poll`` costs about
    a microsecond. A connection that hangs without being closed is not caught here; ``connect_timeout`` and
    the statement failing then do the job.
    """
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None or not hasattr(select, "poll"):
        return
    try:
        fd = fileno()
    except Exception:  # the driver already knows it is closed
        raise DisconnectionError("connection is closed") from None
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise DisconnectionError("the server closed this pooled connection")


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control from the driver so that BEGIN IMMEDIATE is ours to emit
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("tessera_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get("tessera_read"):
            conn.exec_driver_sql("BEGIN")
