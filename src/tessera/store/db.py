"""Engines: SQLite (WAL, foreign keys, writers queue instead of failing) or PostgreSQL through psycopg 3.

Write transactions on SQLite start with ``BEGIN IMMEDIATE``, so two writers queue on the lock rather than one
failing with "database is locked" half-way through; reads never block writers under WAL.

Every read in :class:`~tessera.store.Store` is a single statement, which is atomic and sees one snapshot on its
own, so reads run without a transaction around them (:func:`reader`): no ``BEGIN`` before the ``SELECT`` and
no ``ROLLBACK`` when the connection goes back to the pool. On PostgreSQL that saves two round trips per read.
The hottest statements skip ``Connection`` altogether: see :mod:`tessera.store.raw`.

Every PostgreSQL connection is to a primary: libpq's ``target_session_attrs=read-write`` is set unless the URL
sets it (to ``read-write`` or ``primary``; anything else is refused), so a URL that names a standby, or several
hosts of which some are standbys (``?host=a:5432&host=b:5432``), never gives a connection that reads what a
standby has not replayed yet, such as a token revoked a moment ago on the primary. After a failover the pool's
next connection finds the new primary by itself; until one exists, opening one fails, and requests are answered
503 (:mod:`tessera.store.failures`).

PostgreSQL connections that died while idle in the pool (the server restarted, a proxy or firewall reset them)
are noticed at checkout without a round trip: see :func:`_drop_dead_connections`.

A SQLite file is created by :func:`create_database_file` only, which ``tessera db upgrade`` (and the demo)
reach through :func:`~tessera.store.migrate.upgrade`: owner-only (0600) whatever the umask, and SQLite gives
the ``-wal`` and ``-shm`` files it adds the database file's mode. Everything else opens the file read-write
without creating it (SQLite's ``mode=rw``), so a server whose file was deleted does not start afresh on a new,
empty one: see :func:`_configure_sqlite_file`.
"""

import os
import select
import sqlite3
import threading
from collections.abc import Collection
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from tessera.errors import ConfigError, StoreError

__all__ = [
    "WRITE",
    "MissingDatabaseFile",
    "StatementCounter",
    "create_database_file",
    "load_driver",
    "make_engine",
    "reader",
    "sqlite_file",
]

#: the libpq ``target_session_attrs`` that reach a primary only (PostgreSQL 14 reports the state: no round trip)
_PRIMARY_ONLY = ("read-write", "primary")
#: execution option marking a connection whose transaction writes
WRITE = {"tessera_write": True}
_READ = {"tessera_read": True}


class StatementCounter:
    """Counts SQL statements per process (bench-only: ``TESSERA_BENCH_COUNT_SQL=1``), except those of the threads
    named in ``ignore_threads`` (work done beside the requests, such as the audit trail's batched rows)."""

    def __init__(self, ignore_threads: Collection[str] = ()) -> None:
        self._lock = threading.Lock()
        self._ignored = frozenset(ignore_threads)
        self.count = 0

    def __call__(self, *args: Any) -> None:
        if self._ignored and threading.current_thread().name in self._ignored:
            return
        with self._lock:
            self.count += 1


class MissingDatabaseFile(sqlite3.OperationalError):
    """The SQLite file is not there: it was never created (``tessera db upgrade``), or it was deleted."""


def sqlite_file(url: str | URL) -> str | None:
    """The absolute path of the SQLite file ``url`` names; None for PostgreSQL, an in-memory database, or a URL
    that passes its own SQLite URI (``?uri=true``), which is left as it is."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("uri"):
        return None
    return os.path.abspath(parsed.database)


def create_database_file(url: str | URL) -> None:
    """Create the SQLite file ``url`` names, empty and owner-only (0600) whatever the umask, unless it exists.
    Nothing for PostgreSQL."""
    path = sqlite_file(url)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # an existing file keeps the mode its owner gave it
    except OSError as exc:
        raise StoreError(f"cannot create the database file {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits from 0600 too
    finally:
        os.close(fd)


#: runs of a statement on a PostgreSQL connection before psycopg prepares it there (psycopg's own default): the
#: hot statements are prepared within a connection's first requests, one-off ones never
PREPARE_THRESHOLD = 5


def load_driver(url: str | URL) -> None:
    """Import the driver of ``url`` and its SQLAlchemy dialect, without connecting. ``tessera serve`` does it
    before it forks its workers, which all use them: what loading psycopg's libraries touches (about 3 MiB) is then
    never counted in a worker, and the modules' memory is shared by the workers rather than made by each."""
    make_url(url).get_dialect().import_dbapi()


def make_engine(
    url: str, *, counter: StatementCounter | None = None, pool_size: int = 5, prepared_statements: bool = True
) -> Engine:
    """An engine for ``url``, configured for Tessera's access pattern. On PostgreSQL each process keeps up to
    ``pool_size`` connections open, and opens up to twice as many more for a burst; with ``prepared_statements``
    (psycopg's default) a statement that ran :data:`PREPARE_THRESHOLD` times on a connection is prepared there,
    so the hot ones are parsed and planned once per connection, not once per request. It never creates a SQLite
    file (:func:`create_database_file` does)."""
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
        path = sqlite_file(parsed)
        if path is not None:
            _configure_sqlite_file(engine, path)
    else:
        connect_args: dict[str, Any] = {
            "connect_timeout": 5,
            "prepare_threshold": PREPARE_THRESHOLD if prepared_statements else None,
        }
        attrs = parsed.query.get("target_session_attrs")
        if attrs is None:
            connect_args["target_session_attrs"] = "read-write"
        elif attrs not in _PRIMARY_ONLY:
            raise ConfigError(
                "the database URL's target_session_attrs must be read-write or primary: Tessera reads what it wrote"
            )
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            pool_recycle=1800,
            pool_timeout=10,
            # a database that accepts no connection answers 503 in seconds, not after the OS gives up (per host)
            connect_args=connect_args,
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


#: where a connection's record keeps the identity (device, inode) of the file it opened
_FILE_ID = "tessera_file_id"


def _configure_sqlite_file(engine: Engine, path: str) -> None:
    """Open ``path`` only if it exists, and give up a pooled connection whose file is no longer at ``path``.

    Without this, SQLite creates an empty database wherever a connection finds no file, and a connection keeps
    reading and writing the file it opened even after it was deleted: a server whose file was removed would
    have answered from a ghost of the old database on its pooled connections and "no such table" on new ones,
    and its readiness check would have said ready. Now a connection checked out of the pool first compares
    the file at ``path`` with the one it opened (one ``stat``, about a microsecond); if the file is gone or
    another, the pool drops the connection and opens a new one, which fails while there is no file: 503 with
    ``temporarily_unavailable`` on every request and on ``/readyz``, until ``tessera db upgrade`` makes the
    file again (or it is put back), after which every connection is on the new file.
    """
    uri = f"file:{quote(path)}?mode=rw"

    @event.listens_for(engine, "do_connect")
    def _open_existing(dialect: Dialect, _record: Any, _cargs: list[Any], cparams: dict[str, Any]) -> Any:
        try:
            return dialect.loaded_dbapi.connect(uri, uri=True, **cparams)
        except sqlite3.OperationalError:
            if not os.path.exists(path):
                raise MissingDatabaseFile(
                    f"the database file {path} does not exist: run `tessera db upgrade`"
                ) from None
            raise

    @event.listens_for(engine, "connect")
    def _remember_file(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_FILE_ID] = _file_id(path)

    @event.listens_for(engine, "checkout")
    def _same_file(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        current = _file_id(path)
        if current is None or current != record.info.get(_FILE_ID):
            raise DisconnectionError("the database file was deleted or replaced")


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino
