"""The two ways Tessera runs SQL, side by side in one object that every table's repository shares.

- :meth:`Database.read` and :meth:`Database.write`: SQLAlchemy ``Connection``\\ s, for everything that is not
  on a hot path. Reads are single statements outside any transaction (see :func:`~tessera.store.db.reader`);
  writes are one transaction each (``BEGIN IMMEDIATE`` on SQLite).
- :meth:`Database.hot`: the few statements every request runs, prebuilt and run on the driver's cursor
  (:mod:`tessera.store.raw`), where ``Connection.execute`` cost several times the query itself.

Both raise the same exceptions (:func:`~tessera.store.failures.translated`).
"""

import contextlib
from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.sql import ClauseElement

from tessera.store.db import WRITE, reader
from tessera.store.failures import translated
from tessera.store.raw import Hot, Run

__all__ = ["Database"]


class Database:
    """One engine and its pool, with the hot statements compiled for it once."""

    def __init__(self, engine: Engine, hot_statements: Iterable[ClauseElement]) -> None:
        self.engine = engine
        self._reader = reader(engine)
        self._hot = Hot(engine, hot_statements)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with translated(), self._reader.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with translated(), self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            yield conn

    def hot(self, *, transaction: bool = False) -> contextlib.AbstractContextManager[Run]:
        """One prebuilt statement, or several in one transaction (see :meth:`tessera.store.raw.Hot.connect`)."""
        return self._hot.connect(transaction=transaction)

    def ping(self) -> None:
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1")
