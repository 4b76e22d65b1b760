"""The hot statements on the driver's cursor, without SQLAlchemy's execution machinery around them.

Introspection's ``SELECT``, issuance's ``INSERT`` and the refresh and code transitions run on every request,
and ``Connection.execute`` cost several times the query itself. CPU per call, in-process (``Store`` before and
after this module): ``active_token`` 89 -> 19 µs on SQLite and 224 -> 78 µs on PostgreSQL, ``insert_token``
161 -> 70 µs and 227 -> 92 µs. About 11 µs of what is left is the pool's checkout and return.

What stays SQLAlchemy's: the statements are Core constructs (in ``repositories``), compiled once per
:class:`Hot` to the dialect's SQL and parameter style; connections come from the engine's pool, with its
events (the PostgreSQL checkout check, SQLite's pragmas); everything that is not hot uses ``Connection``.

What :meth:`Hot.connect` does itself that ``Connection`` did:

- transactions. A single statement runs without one, being atomic on its own: SQLite's driver is in autocommit
  already (``make_engine``), and a lone ``INSERT`` takes the write lock before it reads anything, so it queues
  behind other writers as ``BEGIN IMMEDIATE`` would; psycopg's connection is switched to autocommit for the
  statement and back before it returns to the pool. Several statements run in one transaction: ``BEGIN
  IMMEDIATE`` on SQLite, the driver's implicit ``BEGIN`` on PostgreSQL; ``COMMIT``, or ``ROLLBACK`` on any error.
- errors. A driver exception is wrapped as ``Connection`` wraps it (``DBAPIError.instance``), after the
  connection is invalidated if the dialect sees it lost, so :func:`~tessera.store.failures.translated` and the
  callers get the same exceptions from both paths.
- events. The engine's ``before_cursor_execute`` listeners are called for every statement, with ``None`` for
  the ``Connection`` and the execution context, which do not exist here: the bench's statement counter and the
  fault tests that cut the database before a given statement see these statements too. No other engine event
  is emitted.

Only for statements whose values need no conversion between Python and the driver (strings, integers, NULL):
a Boolean or JSON column would need SQLAlchemy's type processing (pinned by a test). The one exception is the
user look-up's ``disabled`` flag, which its caller makes a ``bool`` (SQLite gives 0 or 1).
"""

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from tessera.store.failures import translated

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIModule

__all__ = ["Hot", "Run"]

_Parameters = Sequence[Any] | Mapping[str, Any]


class _Compiled:
    """A statement's SQL for one dialect, and the order of its parameters if the paramstyle is positional."""

    __slots__ = ("order", "sql")

    def __init__(self, statement: ClauseElement, engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        # SQLite's qmark binds by position (a name may appear twice); psycopg's pyformat binds by name
        self.order = tuple(compiled.positiontup or ()) if compiled.positional else None


class Run:
    """Runs the :class:`Hot` statements on one connection's cursor: ``run(statement, values)`` returns the
    cursor, to ``fetchone()`` from or read ``rowcount``."""

    __slots__ = ("cursor", "parameters", "sql", "_compiled", "_engine")

    def __init__(self, cursor: DBAPICursor, compiled: Mapping[ClauseElement, _Compiled], engine: Engine) -> None:
        self.cursor = cursor
        self._compiled = compiled
        self._engine = engine
        self.sql: str | None = None
        self.parameters: _Parameters | None = None

    def __call__(self, statement: ClauseElement, values: Mapping[str, Any]) -> DBAPICursor:
        compiled = self._compiled[statement]
        order = compiled.order
        return self.execute(compiled.sql, values if order is None else tuple(values[name] for name in order))

    def execute(self, sql: str, parameters: _Parameters) -> DBAPICursor:
        # listeners added after the Store was made (the fault tests add theirs) are seen too
        for listener in self._engine.dispatch.before_cursor_execute:
            sql, parameters = listener(None, self.cursor, sql, parameters, None, False)
        self.sql, self.parameters = sql, parameters  # for the error, if one follows
        self.cursor.execute(sql, parameters)
        return self.cursor


class Hot:
    """Some Core statements, compiled once for ``engine``, run on its pooled connections' cursors."""

    def __init__(self, engine: Engine, statements: Iterable[ClauseElement]) -> None:
        self._engine = engine
        self._dbapi = engine.dialect.loaded_dbapi
        self._sqlite = engine.dialect.name == "sqlite"
        self._compiled = {statement: _Compiled(statement, engine) for statement in statements}

    @contextlib.contextmanager
    def connect(self, *, transaction: bool = False) -> Iterator[Run]:
        """A pooled connection to run one statement on, or several in one transaction; always given back.

        Raises what :func:`~tessera.store.failures.translated` raises; other driver errors (an integrity
        error) as the ``sqlalchemy.exc`` exception ``Connection`` would have raised.
        """
        with translated():
            try:
                conn = self._engine.raw_connection()
            except self._dbapi.Error as exc:  # refused, timed out: nothing to give back
                lost = self._engine.dialect.is_disconnect(exc, None, None)
                raise self._wrapped(exc, None, None, lost=lost) from exc
            run: Run | None = None
            autocommit: bool | None = None  # the driver setting to put back, if it was changed
            try:
                run = Run(conn.cursor(), self._compiled, self._engine)
                if self._sqlite:
                    if transaction:
                        run.execute("BEGIN IMMEDIATE", ())
                elif conn.dbapi_connection is not None and conn.dbapi_connection.autocommit == transaction:
                    autocommit = transaction
                    conn.dbapi_connection.autocommit = not transaction
                yield run
                run.cursor.close()
                conn.commit()  # with nothing to commit (one statement in autocommit), no round trip
            except self._dbapi.Error as exc:
                raise self._failed(conn, run, exc) from exc
            except BaseException:
                self._roll_back(conn, run)
                raise
            finally:
                if autocommit is not None and conn.dbapi_connection is not None:
                    try:
                        conn.dbapi_connection.autocommit = autocommit
                    except self._dbapi.Error as exc:
                        conn.invalidate(exc)
                conn.close()

    def _failed(self, conn: PoolProxiedConnection, run: Run | None, exc: "DBAPIModule.Error") -> StatementError:
        lost = self._engine.dialect.is_disconnect(exc, conn, None if run is None else run.cursor)
        if lost:
            # as Connection does: close this connection, and have the pool replace the ones opened before it
            self._engine.pool._invalidate(conn, exc)
        else:
            self._roll_back(conn, run)
        if run is None:
            return self._wrapped(exc, None, None, lost=lost)
        return self._wrapped(exc, run.sql, run.parameters, lost=lost)

    def _roll_back(self, conn: PoolProxiedConnection, run: Run | None) -> None:
        if not conn.is_valid:
            return
        try:
            if run is not None:
                run.cursor.close()
            conn.rollback()
        except self._dbapi.Error as exc:
            conn.invalidate(exc)

    def _wrapped(
        self, exc: "DBAPIModule.Error", sql: str | None, parameters: _Parameters | None, *, lost: bool
    ) -> StatementError:
        return DBAPIError.instance(
            sql,
            parameters,
            exc,
            self._dbapi.Error,
            hide_parameters=self._engine.hide_parameters,
            connection_invalidated=lost,
            dialect=self._engine.dialect,
        )
