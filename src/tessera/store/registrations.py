"""Clients registered over HTTP (RFC 7591) and the tokens that allow it. The rules (what a registration may ask
for) live in :mod:`tessera.server.dynamic`; this module stores what it was given, by digest only.

A registration is one transaction: the initial access token's use (if one was needed), the client and its
registration access token are written together or not at all, so a refused or failed registration leaves
nothing behind and an initial access token allowing one use registers exactly one client, however many
requests race for it.
"""

import dataclasses

from sqlalchemy import ColumnElement, and_, delete, exists, insert, or_, select, update

from tessera.errors import NotFound
from tessera.store.clients import client_values
from tessera.store.database import Database
from tessera.store.models import authorization_codes as _codes
from tessera.store.models import clients as _clients
from tessera.store.models import consents as _consents
from tessera.store.models import initial_access_tokens as _initial
from tessera.store.models import registrations as _registrations
from tessera.store.models import tokens as _tokens
from tessera.store.records import ClientRecord, InitialAccessToken, RegistrationRecord

__all__ = ["RegistrationTable"]


class RegistrationTable:
    """:class:`~tessera.store.protocols.Registrations` over the ``registrations`` and ``initial_access_tokens``
    tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_initial(self, token: InitialAccessToken) -> None:
        with self._db.write() as conn:
            conn.execute(insert(_initial).values(dataclasses.asdict(token)))

    def initial_usable(self, digest: str, now: int) -> bool:
        with self._db.read() as conn:
            return conn.execute(select(_initial.c.digest).where(_usable(digest, now))).first() is not None

    def register(
        self, client: ClientRecord, registration: RegistrationRecord, *, initial: str | None, now: int
    ) -> None:
        """Store ``client`` and ``registration``, spending one use of the initial access token whose digest is
        ``initial`` (if not ``None``). Raises :class:`PermissionError`, and stores nothing, when that token has
        no use left or has expired meanwhile."""
        with self._db.write() as conn:
            if initial is not None:
                spent = conn.execute(
                    update(_initial)
                    .where(_usable(initial, now))
                    .values(uses_left=_initial.c.uses_left - 1)  # NULL - 1 is NULL: unlimited stays unlimited
                )
                if spent.rowcount != 1:
                    raise PermissionError("the initial access token has expired or has no use left")
            conn.execute(insert(_clients).values(client_id=client.client_id, **client_values(client)))
            conn.execute(insert(_registrations).values(dataclasses.asdict(registration)))

    def by_token(self, token_digest: str) -> RegistrationRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(_registrations).where(_registrations.c.token_digest == token_digest)
            ).one_or_none()
        return None if row is None else RegistrationRecord(**row._mapping)

    def by_client(self, client_id: str) -> RegistrationRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(_registrations).where(_registrations.c.client_id == client_id)).one_or_none()
        return None if row is None else RegistrationRecord(**row._mapping)

    def update(self, client: ClientRecord, method: str) -> None:
        with self._db.write() as conn:
            values = client_values(client)
            for kept in ("secret_digest", "created_at", "previous_secret_digest", "previous_secret_expires_at"):
                del values[kept]
            if (
                conn.execute(update(_clients).where(_clients.c.client_id == client.client_id).values(values)).rowcount
                != 1
            ):
                raise NotFound(f"no client {client.client_id!r}")
            conn.execute(
                update(_registrations)
                .where(_registrations.c.client_id == client.client_id)
                .values(token_endpoint_auth_method=method)
            )

    def purge_unused(self, registered_before: int) -> int:
        """Delete the clients registered over HTTP, or stored from a client ID metadata document (their
        ``client_id`` is a URL), before ``registered_before`` that were never used: no token, code or consent of
        theirs exists. How many. Each deletion is announced as a change of that client, as :meth:`delete` does."""
        registered = select(_registrations.c.client_id).where(_registrations.c.created_at < registered_before)
        document = and_(
            _clients.c.created_at < registered_before,
            or_(_clients.c.client_id.startswith("https://"), _clients.c.client_id.startswith("http://")),
        )
        unused = (
            select(_clients.c.client_id)
            .where(or_(_clients.c.client_id.in_(registered), document))
            .where(~exists().where(_tokens.c.client_id == _clients.c.client_id))
            .where(~exists().where(_codes.c.client_id == _clients.c.client_id))
            .where(~exists().where(_consents.c.client_id == _clients.c.client_id))
        )
        with self._db.write() as conn:
            ids = list(conn.execute(unused).scalars())
            if not ids:
                return 0
            conn.execute(delete(_registrations).where(_registrations.c.client_id.in_(ids)))
            deleted = conn.execute(delete(_clients).where(_clients.c.client_id.in_(ids))).rowcount
        self._db.changed("client", *ids)  # every process drops its cached copy, as when one client is deleted
        return deleted

    def purge_initial(self, now: int) -> int:
        """Delete initial access tokens that expired or have no use left; how many."""
        with self._db.write() as conn:
            gone = or_(_initial.c.expires_at <= now, _initial.c.uses_left <= 0)
            return conn.execute(delete(_initial).where(gone)).rowcount


def _usable(digest: str, now: int) -> ColumnElement[bool]:
    return (
        (_initial.c.digest == digest)
        & or_(_initial.c.uses_left.is_(None), _initial.c.uses_left > 0)
        & or_(_initial.c.expires_at.is_(None), _initial.c.expires_at > now)
    )
