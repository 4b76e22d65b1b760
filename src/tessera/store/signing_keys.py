"""The ID-token signing keys (``signing_keys``): the public JWK in clear, the private one only as the ciphertext
:mod:`tessera.server.keys` made. This module never sees a private key.

A key is ``active`` (it signs, the newest active key of an algorithm first) or ``retired`` (it signs no more,
and stays published while ID tokens it signed may still be alive). Rotating inserts the new key and retires the
old ones of the same algorithm in one transaction, so there is never a moment without an active key.
"""

from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from tessera.store.database import Database
from tessera.store.models import signing_keys as _keys
from tessera.store.records import SigningKeyRecord

__all__ = ["SigningKeyTable"]

ACTIVE, RETIRED = "active", "retired"

_VERSION = select(_keys.c.kid, _keys.c.state).order_by(_keys.c.kid)


class SigningKeyTable:
    """:class:`~tessera.store.protocols.SigningKeys` over the ``signing_keys`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[SigningKeyRecord]:
        """Every key, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(select(_keys).order_by(_keys.c.created_at, _keys.c.kid)).all()
        return [_record(row._mapping) for row in rows]

    def version(self) -> tuple[tuple[str, str], ...]:
        """(kid, state) of every key: one small read that changes whenever a key is added, retired or dropped."""
        with self._db.read() as conn:
            return tuple((kid, state) for kid, state in conn.execute(_VERSION).all())

    def add(self, key: SigningKeyRecord, *, retire_others: bool) -> None:
        """Store ``key``; with ``retire_others``, retire every other active key of its algorithm in the same
        transaction."""
        with self._db.write() as conn:
            if retire_others:
                conn.execute(
                    update(_keys)
                    .where(and_(_keys.c.alg == key.alg, _keys.c.state == ACTIVE))
                    .values(state=RETIRED, retired_at=key.created_at)
                )
            conn.execute(
                insert(_keys).values(
                    kid=key.kid,
                    alg=key.alg,
                    state=key.state,
                    created_at=key.created_at,
                    retired_at=key.retired_at,
                    public_jwk=dict(key.public_jwk),
                    encrypted_private_key=key.encrypted_private_key,
                )
            )

    def purge_retired(self, before: int) -> int:
        """Delete keys retired before ``before`` (no ID token they signed is alive); how many."""
        with self._db.write() as conn:
            result = conn.execute(delete(_keys).where(and_(_keys.c.state == RETIRED, _keys.c.retired_at < before)))
        return int(result.rowcount or 0)


def _record(m: Any) -> SigningKeyRecord:
    return SigningKeyRecord(
        kid=m["kid"],
        alg=m["alg"],
        state=m["state"],
        created_at=m["created_at"],
        retired_at=m["retired_at"],
        public_jwk=dict(m["public_jwk"]),
        encrypted_private_key=m["encrypted_private_key"],
    )
