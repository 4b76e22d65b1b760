"""The two ways Tessera runs SQL, side by side in one object that every table's repository shares.

- :meth:`Database.read` and :meth:`Database.write`: SQLAlchemy ``Connection``\\ s, for everything that is not
  on a hot path. Reads are single statements outside any transaction (see :func:`~tessera.store.db.reader`);
  writes are one transaction each (``BEGIN IMMEDIATE`` on SQLite).
- :meth:`Database.hot`: the few statements every request runs, prebuilt and run on the driver's cursor
  (:mod:`tessera.store.raw`), where ``Connection.execute`` cost several times the query itself.

Both raise the same exceptions (:func:`~tessera.store.failures.translated`).

It also tells whoever listens (:meth:`Database.changed`) that a client or a user changed, once the change is
committed: the server's own client cache, and the Redis publisher that tells every other process.
"""

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.sql import ClauseElement

from tessera.store.db import WRITE, reader
from tessera.store.failures import translated
from tessera.store.raw import Hot, Run

__all__ = ["ChangeListener", "Database"]

#: called with a kind (``client``, ``user``) and an id once a change to that row is committed
ChangeListener = Callable[[str, str], None]

log = logging.getLogger("tessera.store")


class Database:
    """One engine and its pool, with the hot statements compiled for it once."""

    def __init__(self, engine: Engine, hot_statements: Iterable[ClauseElement]) -> None:
        self.engine = engine
        self._reader = reader(engine)
        self._hot = Hot(engine, hot_statements)
        self.listeners: list[ChangeListener] = []

    def changed(self, kind: str, *ids: str) -> None:
        """Tell the listeners that these rows changed (after the commit). A listener that fails is logged: the
        change is made, and caches elsewhere drop their copy within their TTL."""
        for listener in self.listeners:
            for row_id in ids:
                try:
                    listener(kind, row_id)
                except Exception:
                    log.exception("a change listener failed for a %s", kind)

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
