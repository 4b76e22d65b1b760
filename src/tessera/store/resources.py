"""Protected resources (RFC 8707): the APIs a token may be restricted to. Their rules (what a URI may be, which
scopes) live in :mod:`tessera.server.resources`; this module stores what it was given.

Deleting a resource leaves the tokens already issued for it as they are, their audience included, until they
expire or are revoked: a refresh that asks for it again is refused, since it is no longer registered.
"""

from collections.abc import Collection

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.exc import IntegrityError

from tessera.errors import AlreadyExists, NotFound
from tessera.store.database import Database
from tessera.store.models import resources as _resources
from tessera.store.records import ResourceRecord

__all__ = ["ResourceTable"]


class ResourceTable:
    """:class:`~tessera.store.protocols.Resources` over the ``resources`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[ResourceRecord]:
        with self._db.read() as conn:
            return [_record(row) for row in conn.execute(select(_resources).order_by(_resources.c.uri))]

    def find(self, uris: Collection[str]) -> dict[str, ResourceRecord]:
        if not uris:
            return {}
        with self._db.read() as conn:
            rows = conn.execute(select(_resources).where(_resources.c.uri.in_(list(uris))))
            return {row.uri: _record(row) for row in rows}

    def create(self, resource: ResourceRecord) -> None:
        values = {
            "uri": resource.uri,
            "name": resource.name,
            "scope": resource.scope,
            "created_at": resource.created_at,
        }
        try:
            with self._db.write() as conn:
                conn.execute(insert(_resources).values(values))
        except IntegrityError:
            raise AlreadyExists(f"resource {resource.uri!r} already exists") from None

    def delete(self, uri: str) -> None:
        with self._db.write() as conn:
            if conn.execute(delete(_resources).where(_resources.c.uri == uri)).rowcount != 1:
                raise NotFound(f"no resource {uri!r}")


def _record(row: Row[tuple[object, ...]]) -> ResourceRecord:
    return ResourceRecord(uri=row.uri, name=row.name, scope=row.scope, created_at=row.created_at)
