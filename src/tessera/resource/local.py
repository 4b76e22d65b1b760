"""The local token source: an API deployed beside the authorization server reads its database directly.

    >>> source = LocalSource.from_url("postgresql+psycopg://tessera@db/tessera")  # doctest: +SKIP

One indexed query per lookup (:meth:`tessera.store.Store.active_token`), the same one introspection runs on
the server, without the HTTP round trip. Use a read-only database role if you like: nothing here writes.
This is the only module of :mod:`tessera.resource` that touches :mod:`tessera.store`.
"""

import logging

from tessera.errors import StoreError
from tessera.resource.core import AccessToken
from tessera.resource.errors import ServerUnavailable
from tessera.store import Store, make_engine

__all__ = ["LocalSource"]

log = logging.getLogger("tessera.resource")


class LocalSource:
    """A :class:`~tessera.resource.core.TokenSource` over the authorization server's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._failing = False
        self._owns_engine = False

    @classmethod
    def from_url(cls, database_url: str) -> "LocalSource":
        """A source on its own engine for ``database_url`` (``TESSERA_DATABASE_URL`` of the server)."""
        source = cls(Store(make_engine(database_url)))
        source._owns_engine = True
        return source

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        try:
            record = self.store.active_token(token_digest)
        except StoreError as exc:
            # say it once per outage, not once per request
            if not self._failing:
                log.warning("local token source: %s; answering 503 until it is back", exc)
            self._failing = True
            raise ServerUnavailable(f"local token source: {exc}") from exc
        if self._failing:
            log.info("local token source: the database answers again")
            self._failing = False
        if record is None:
            return None
        return AccessToken(
            subject=record.subject,
            username=record.username,
            client_id=record.client_id,
            scope=record.scope,
            expires_at=record.expires_at,
            digest=token_digest,
        )

    def close(self) -> None:
        """Release the engine's connections, if :meth:`from_url` made the engine."""
        if self._owns_engine:
            self.store.engine.dispose()
