"""The audit trail's table: events written in batches, listed newest first, purged by age.

Rows come from :class:`tessera.server.audit.AuditTrail`, which writes them off the request path, many in one
transaction (:meth:`AuditTable.add`). Nothing here knows what the events mean.
"""

import itertools
import operator
from collections.abc import Sequence

from sqlalchemy import delete, select

from tessera.store.database import Database
from tessera.store.models import audit_events as _events
from tessera.store.records import AuditRecord, AuditRow

__all__ = ["AuditTable"]

_COLUMNS = (
    _events.c.at,
    _events.c.event,
    _events.c.outcome,
    _events.c.client_id,
    _events.c.username,
    _events.c.address,
    _events.c.request_id,
    _events.c.reason,
    _events.c.detail,
)


_NAMES = ("at", "event", "outcome", "client_id", "username", "address", "request_id", "reason", "detail")
#: rows per ``INSERT``, and the smaller counts a batch's remainder is made of (binary: at most six statements)
_CHUNKS = (16, 8, 4, 2, 1)


class AuditTable:
    """:class:`~tessera.store.protocols.AuditEvents` over the ``audit_events`` table.

    A batch is written in one transaction on the driver's cursor (:meth:`~tessera.store.database.Database.hot`),
    as ``INSERT`` statements of up to 64 rows each (``VALUES (...), (...)``), the values positional and as they
    come: each row is an :data:`~tessera.store.records.AuditRow` in the columns' order, every value a string, a
    number or NULL (``detail`` as JSON text, which both databases take into a JSON column), so nothing is converted
    per row. Measured in instructions under callgrind on SQLite (``bench/RESULTS.md``), each choice against the one
    before it: SQLAlchemy's per-row parameter processing cost 20 µs a row, three times the ``INSERT`` itself (so:
    the driver's own parameters); ``executemany`` runs the statement once per row, opening the table and its three
    indexes each time, a third of a row's cost (so: many rows to a statement, and a few statement sizes for the
    driver's statement cache to keep); and Python's ``sqlite3`` binds ``None`` through its adapter registry,
    formatting and clearing an ``AttributeError`` each time (so: the columns a row leaves NULL are left out of its
    statement, rows grouped by which those are; most of a batch is one group). Reads go through SQLAlchemy as
    usual.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        dialect = db.engine.dialect
        self._quote = dialect.identifier_preparer.quote
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"  # SQLite's; psycopg's positional style
        self._statements: dict[tuple[tuple[bool, ...], int], str] = {}

    def _sql(self, nulls: tuple[bool, ...], count: int) -> str:
        """The ``INSERT`` of ``count`` rows whose ``nulls`` columns are NULL (left out)."""
        sql = self._statements.get((nulls, count))
        if sql is None:
            names = [name for name, null in zip(_NAMES, nulls, strict=True) if not null]
            row = f"({', '.join([self._mark] * len(names))})"
            sql = self._statements[nulls, count] = (
                f"INSERT INTO {self._quote(_events.name)} ({', '.join(self._quote(name) for name in names)}) "
                f"VALUES {', '.join([row] * count)}"
            )
        return sql

    def add(self, rows: Sequence[AuditRow]) -> None:
        """Store ``rows`` in one transaction."""
        if not rows:
            return
        groups: dict[tuple[bool, ...], list[AuditRow]] = {}
        for row in rows:
            _, _, _, client_id, username, address, request_id, reason, detail = row  # the first three are NOT NULL
            nulls = (False, False, False, client_id is None, username is None, address is None, request_id is None,
                     reason is None, detail is None)  # fmt: skip
            try:
                groups[nulls].append(row)
            except KeyError:
                groups[nulls] = [row]
        with self._db.hot(transaction=True) as run:
            for shape, grouped in groups.items():
                values = operator.itemgetter(*[i for i, null in enumerate(shape) if not null])
                start, left = 0, len(grouped)
                for size in _CHUNKS:
                    while left >= size:
                        chunk = grouped[start : start + size]
                        run.execute(self._sql(shape, size), list(itertools.chain.from_iterable(map(values, chunk))))
                        start, left = start + size, left - size

    def list(
        self, *, user: str | None = None, client_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """The newest ``limit`` events matching every filter given, newest first."""
        stmt = select(*_COLUMNS)
        if user is not None:
            stmt = stmt.where(_events.c.username == user)
        if client_id is not None:
            stmt = stmt.where(_events.c.client_id == client_id)
        if since is not None:
            stmt = stmt.where(_events.c.at >= since)
        stmt = stmt.order_by(_events.c.at.desc(), _events.c.id.desc()).limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        return [AuditRecord(*row) for row in rows]

    def purge(self, before: float) -> int:
        """Delete the events older than ``before`` (Unix seconds); how many."""
        with self._db.write() as conn:
            return int(conn.execute(delete(_events).where(_events.c.at < before)).rowcount)
