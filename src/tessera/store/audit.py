"""The audit trail's table: events written in batches, listed newest first, purged by age.

Rows come from :class:`tessera.server.audit.AuditTrail`, which writes them off the request path, many in one
transaction (:meth:`AuditTable.add`). Nothing here knows what the events mean.
"""

from collections.abc import Sequence

from sqlalchemy import delete, insert, select

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


class AuditTable:
    """:class:`~tessera.store.protocols.AuditEvents` over the ``audit_events`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
                "detail": e.detail,
            }
            for e in events
        ]
        with self._db.write() as conn:
            conn.execute(insert(_events), rows)

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
            return [AuditRecord(*row) for row in conn.execute(stmt)]

    def purge(self, before: float) -> int:
        """Delete the events older than ``before`` (Unix seconds); how many."""
        with self._db.write() as conn:
            return int(conn.execute(delete(_events).where(_events.c.at < before)).rowcount)
