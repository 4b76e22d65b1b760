"""Registered clients. Their rules (what a redirect URI or a scope may be) live in
:mod:`tessera.server.registration`; this module only stores what it was given."""

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.errors import AlreadyExists, NotFound
from tessera.store.database import Database
from tessera.store.models import authorization_codes as _codes
from tessera.store.models import clients as _clients
from tessera.store.models import consents as _consents
from tessera.store.models import registrations as _registrations
from tessera.store.models import tokens as _tokens
from tessera.store.records import ClientRecord
from tessera.store.tokens import revoke_where

__all__ = ["ClientTable", "client_values"]

_CLIENT = select(_clients).where(_clients.c.client_id == bindparam("client_id"))


class ClientTable:
    """:class:`~tessera.store.protocols.Clients` over the ``clients`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, client_id: str) -> ClientRecord | None:
        with self._db.read() as conn:
            row = conn.execute(_CLIENT, {"client_id": client_id}).one_or_none()
        return None if row is None else _record(row)

    def all(self) -> list[ClientRecord]:
        with self._db.read() as conn:
            return [_record(r) for r in conn.execute(select(_clients).order_by(_clients.c.created_at))]

    def create(self, client: ClientRecord) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(insert(_clients).values(client_id=client.client_id, **client_values(client)))
        except IntegrityError:
            raise AlreadyExists(f"client {client.client_id!r} already exists") from None

    def update(self, client: ClientRecord) -> None:
        values = client_values(client)
        for secret in ("secret_digest", "created_at", "previous_secret_digest", "previous_secret_expires_at"):
            del values[secret]
        with self._db.write() as conn:
            result = conn.execute(update(_clients).where(_clients.c.client_id == client.client_id).values(values))
            if result.rowcount != 1:
                raise NotFound(f"no client {client.client_id!r}")
        self._db.changed("client", client.client_id)

    def set_secret(self, client_id: str, secret_digest: str, *, keep_previous_until: int | None = None) -> None:
        if keep_previous_until is None:
            previous: dict[str, object] = {"previous_secret_digest": None, "previous_secret_expires_at": None}
        else:
            # the secret being replaced, read by the same statement: in SET, a column is its value before the
            # update, so a rotation racing another keeps the secret it replaced, never a stale one
            previous = {
                "previous_secret_digest": _clients.c.secret_digest,
                "previous_secret_expires_at": keep_previous_until,
            }
        with self._db.write() as conn:
            result = conn.execute(
                update(_clients)
                .where(_clients.c.client_id == client_id)
                .values(secret_digest=secret_digest, **previous)
            )
            if result.rowcount != 1:
                raise NotFound(f"no client {client_id!r}")
        self._db.changed("client", client_id)

    def delete(self, client_id: str) -> list[str]:
        with self._db.write() as conn:
            revoked = revoke_where(conn, _tokens.c.client_id == client_id)
            for table in (_tokens, _codes, _consents, _registrations):
                conn.execute(delete(table).where(table.c.client_id == client_id))
            if conn.execute(delete(_clients).where(_clients.c.client_id == client_id)).rowcount != 1:
                raise NotFound(f"no client {client_id!r}")
        self._db.changed("client", client_id)
        return revoked


def client_values(client: ClientRecord) -> dict[str, object]:
    """The columns of ``client``'s row but its id."""
    return {
        "secret_digest": client.secret_digest,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": list(client.grant_types),
        "scope": client.scope,
        "public": client.public,
        "may_introspect": client.may_introspect,
        "created_at": client.created_at,
        "previous_secret_digest": client.previous_secret_digest,
        "previous_secret_expires_at": client.previous_secret_expires_at,
        "require_dpop": client.require_dpop,
        "auth_method": client.auth_method,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "id_token_alg": client.id_token_alg,
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris) or None,
    }


def _record(row: Row[tuple[object, ...]]) -> ClientRecord:
    m = row._mapping
    return ClientRecord(
        client_id=m["client_id"],
        secret_digest=m["secret_digest"],
        name=m["name"],
        redirect_uris=tuple(m["redirect_uris"]),
        grant_types=tuple(m["grant_types"]),
        scope=m["scope"],
        public=bool(m["public"]),
        may_introspect=bool(m["may_introspect"]),
        created_at=m["created_at"],
        previous_secret_digest=m["previous_secret_digest"],
        previous_secret_expires_at=m["previous_secret_expires_at"],
        require_dpop=bool(m["require_dpop"]),
        auth_method=m["auth_method"],
        jwks=m["jwks"],
        jwks_uri=m["jwks_uri"],
        id_token_alg=m["id_token_alg"],
        post_logout_redirect_uris=tuple(m["post_logout_redirect_uris"] or ()),
    )
