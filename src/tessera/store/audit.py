"""The audit trail's table: events written in batches, listed newest first, purged by age.

Rows come from :class:`tessera.server.audit.AuditTrail`, which writes them off the request path, many in one
transaction (:meth:`AuditTable.add`). Nothing here knows what the events mean.
"""

import json
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.sql.compiler import SQLCompiler

from tessera.store.database import Database
from tessera.store.models import audit_events as _events
from tessera.store.records import AuditRecord

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


_FIELDS = ("at", "event", "outcome", "client_id", "username", "address", "request_id", "reason", "detail")
_INSERT = insert(_events).values({name: bindparam(name) for name in _FIELDS})


class AuditTable:
    """:class:`~tessera.store.protocols.AuditEvents` over the ``audit_events`` table.

    A batch goes to the driver's ``executemany`` as it is (``exec_driver_sql``, the statement compiled once for the
    dialect): every value is a string, a number or NULL (``detail`` as JSON text, which both databases take into a
    JSON column), so nothing needs SQLAlchemy's per-row parameter processing, which cost 20 µs a row, three times
    the ``INSERT`` itself on SQLite (measured with ``bench/ops_inproc.py``). Reads go through SQLAlchemy as usual.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        compiled = _INSERT.compile(dialect=db.engine.dialect)
        assert isinstance(compiled, SQLCompiler)
        self._sql = compiled.string
        self._order = compiled.positiontup  # None for a named paramstyle (psycopg's)

    def add(self, events: Sequence[AuditRecord]) -> None:
        """Store ``events`` in one transaction (one ``INSERT`` with many rows)."""
        if not events:
            return
        rows = [
            {
                "at": e.at,
                "event": e.event,
                "outcome": e.outcome,
                "client_id": e.client_id,
                "username": e.user,
                "address": e.address,
                "request_id": e.request_id,
                "reason": e.reason,
                "detail": None if e.detail is None else json.dumps(e.detail, separators=(",", ":")),
            }
            for e in events
        ]
        order = self._order
        parameters = rows if order is None else [tuple(row[name] for name in order) for row in rows]
        with self._db.write() as conn:
            conn.exec_driver_sql(self._sql, parameters)

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
