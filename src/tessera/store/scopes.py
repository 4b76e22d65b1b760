"""Declared scopes. Their rules (what a name or a description may be, when a scope may be deleted) live in
:mod:`tessera.server.scopes`; this module stores what it was given.

Clients keep their scopes as a space-separated string, the form every grant reads, so nothing in the schema ties
a client's scope to this table. :meth:`ScopeTable.delete` keeps the two in step: in the transaction that deletes
a scope, it removes the scope from every client and every remembered consent that holds it, after asking the
caller whether it may (the caller's rules see the clients as they are inside that transaction, locked, so no
client can take the scope between the check and the deletion on PostgreSQL either).

Finding who holds a scope is a ``LIKE`` on the scope strings, narrowed by splitting them: a handful of clients,
read only by the CLI. Consents are many more, but a scope is deleted rarely and the ``LIKE`` spares reading the
rows that cannot hold it.
"""

from collections.abc import Callable, Collection, Mapping

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.errors import AlreadyExists, NotFound
from tessera.store.database import Database
from tessera.store.models import clients as _clients
from tessera.store.models import consents as _consents
from tessera.store.models import scopes as _scopes
from tessera.store.records import ScopeRecord

__all__ = ["ScopeTable"]

#: called with the clients that hold the scope about to be deleted (client id -> every scope it holds); raises to
#: keep everything as it was
DeletionCheck = Callable[[Mapping[str, tuple[str, ...]]], None]


class ScopeTable:
    """:class:`~tessera.store.protocols.Scopes` over the ``scopes`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[ScopeRecord]:
        with self._db.read() as conn:
            return [_record(row) for row in conn.execute(select(_scopes).order_by(_scopes.c.name))]

    def names(self) -> list[str]:
        with self._db.read() as conn:
            return list(conn.execute(select(_scopes.c.name).order_by(_scopes.c.name)).scalars())

    def described(self, names: Collection[str]) -> dict[str, str]:
        if not names:
            return {}
        stmt = select(_scopes.c.name, _scopes.c.description).where(_scopes.c.name.in_(list(names)))
        with self._db.read() as conn:
            return {name: description for name, description in conn.execute(stmt)}

    def get(self, name: str) -> ScopeRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(_scopes).where(_scopes.c.name == name)).one_or_none()
        return None if row is None else _record(row)

    def create(self, scope: ScopeRecord) -> None:
        values = {
            "name": scope.name,
            "description": scope.description,
            "is_default": scope.default,
            "created_at": scope.created_at,
        }
        try:
            with self._db.write() as conn:
                conn.execute(insert(_scopes).values(values))
        except IntegrityError:
            raise AlreadyExists(f"scope {scope.name!r} already exists") from None

    def update(self, name: str, *, description: str | None = None, default: bool | None = None) -> ScopeRecord:
        values: dict[str, object] = {}
        if description is not None:
            values["description"] = description
        if default is not None:
            values["is_default"] = default
        with self._db.write() as conn:
            if values:
                conn.execute(update(_scopes).where(_scopes.c.name == name).values(values))
            row = conn.execute(select(_scopes).where(_scopes.c.name == name)).one_or_none()
            if row is None:
                raise NotFound(f"no scope {name!r}")
        return _record(row)

    def delete(self, name: str, check: DeletionCheck) -> list[str]:
        with self._db.write() as conn:
            found = conn.execute(select(_scopes.c.name).where(_scopes.c.name == name).with_for_update()).first()
            if found is None:
                raise NotFound(f"no scope {name!r}")
            holders = _holders(conn, name)
            check(holders)
            for client_id, held in holders.items():
                remaining = " ".join(s for s in held if s != name)
                conn.execute(update(_clients).where(_clients.c.client_id == client_id).values(scope=remaining))
            _forget_consents(conn, name)
            conn.execute(delete(_scopes).where(_scopes.c.name == name))
        self._db.changed("client", *holders)
        return list(holders)


def _holders(conn: Connection, name: str) -> dict[str, tuple[str, ...]]:
    """The clients holding ``name``, oldest first, locked until the transaction ends."""
    stmt = (
        select(_clients.c.client_id, _clients.c.scope)
        .where(_clients.c.scope.contains(name, autoescape=True))
        .order_by(_clients.c.created_at, _clients.c.client_id)
        .with_for_update()
    )
    held = ((client_id, tuple(scope.split())) for client_id, scope in conn.execute(stmt))
    return {client_id: scopes for client_id, scopes in held if name in scopes}


def _forget_consents(conn: Connection, name: str) -> None:
    """Remove ``name`` from every remembered consent: a scope declared again later under the same name may mean
    something else, and must be asked for again. A consent left with nothing is deleted."""
    stmt = (
        select(_consents.c.user_id, _consents.c.client_id, _consents.c.scope)
        .where(_consents.c.scope.contains(name, autoescape=True))
        .with_for_update()
    )
    for user_id, client_id, scope in conn.execute(stmt).all():
        granted = scope.split()
        if name not in granted:
            continue
        where = (_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        remaining = " ".join(s for s in granted if s != name)
        if remaining:
            conn.execute(update(_consents).where(*where).values(scope=remaining))
        else:
            conn.execute(delete(_consents).where(*where))


def _record(row: Row[tuple[object, ...]]) -> ScopeRecord:
    m = row._mapping
    return ScopeRecord(
        name=m["name"], description=m["description"], default=bool(m["is_default"]), created_at=m["created_at"]
    )
