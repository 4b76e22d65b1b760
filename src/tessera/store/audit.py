"""The audit trail's table: events written in batches, listed newest first, purged by age.

Rows come from :class:`tessera.server.audit.AuditTrail`, which writes them off the request path, many in one
transaction (:meth:`AuditTable.add`). Nothing here knows what the events mean.
"""

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


class AuditTable:
    """:class:`~tessera.store.protocols.AuditEvents` over the ``audit_events`` table.

    A batch goes to the driver's ``executemany`` as it comes, one statement for many rows: each row is a tuple in
    the statement's column order (an :data:`~tessera.store.records.AuditRow`), every value a string, a number or
    NULL (``detail`` as JSON text, which both databases take into a JSON column), and the statement's parameters
    are positional on both drivers, so nothing is converted or reordered per row (SQLAlchemy's per-row parameter
    processing cost 20 µs a row, three times the ``INSERT`` itself on SQLite; measured with
    ``bench/ops_inproc.py``). Reads go through SQLAlchemy as usual.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        dialect = db.engine.dialect
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"  # SQLite's; psycopg's positional style
        self._sql = (
            f"INSERT INTO {quote(_events.name)} ({', '.join(quote(name) for name in _NAMES)}) "
            f"VALUES ({', '.join([mark] * len(_NAMES))})"
        )

    def add(self, rows: Sequence[AuditRow]) -> None:
        """Store ``rows`` in one transaction (one ``INSERT`` with many rows)."""
        if not rows:
            return
        with self._db.write() as conn:
            conn.exec_driver_sql(self._sql, list(rows))

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
