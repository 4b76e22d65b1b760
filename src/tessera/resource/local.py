"""The local token source: an API deployed beside the authorization server reads its database directly.

    >>> source = LocalSource.from_url("postgresql+psycopg://tessera@db/tessera")  # doctest: +SKIP

One indexed query per lookup (:meth:`tessera.store.protocols.TokenReader.active`), the same one introspection
runs on the server, without the HTTP round trip. Use a read-only database role if you like: nothing here writes.
This is the only module of :mod:`tessera.resource` that touches :mod:`tessera.store`, and it does so only when a
source is made from a URL: the storage layer (SQLAlchemy, the drivers) comes with the server's distribution,
``tessera-oauth``, not with the toolkit's own, ``tessera-oauth-resource``.

A token's audience (RFC 8707: the resources it was issued for) is read in the same query, so a validator with
``audience=`` works with this source as with introspection.
"""

import logging
from typing import TYPE_CHECKING

from tessera.errors import StoreError
from tessera.resource.core import AccessToken
from tessera.resource.errors import ServerUnavailable

if TYPE_CHECKING:  # imported when a source is made from a URL: see LocalSource.from_url
    from tessera.store import Store, TokenReader

__all__ = ["LocalSource"]

log = logging.getLogger("tessera.resource")


class LocalSource:
    """A :class:`~tessera.resource.core.TokenSource` over the authorization server's database."""

    def __init__(self, tokens: "TokenReader") -> None:
        self.tokens = tokens
        self._failing = False
        self._owned: Store | None = None

    @classmethod
    def from_url(cls, database_url: str, *, prepared_statements: bool = True) -> "LocalSource":
        """A source on its own engine for ``database_url`` (``TESSERA_DATABASE_URL`` of the server).

        ``prepared_statements=False`` on PostgreSQL behind a pooler in transaction mode that cannot keep them, as
        the server's ``TESSERA_PREPARED_STATEMENTS=off`` (by default the lookup is prepared on each connection
        after a few runs there)."""
        try:
            from tessera.store import Store, make_engine
        except ImportError as exc:
            raise ImportError(
                "LocalSource reads the server's database and needs its storage layer: pip install tessera-oauth "
                "(or use IntrospectionSource, which needs nothing more)"
            ) from exc
        store = Store(make_engine(database_url, prepared_statements=prepared_statements))
        source = cls(store.tokens)
        source._owned = store
        return source

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        try:
            record = self.tokens.active(token_digest)
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
            audience=tuple(record.audience.split()) if record.audience else (),
            jkt=record.jkt,
        )

    def close(self) -> None:
        """Release the engine's connections, if :meth:`from_url` made the engine."""
        if self._owned is not None:
            self._owned.close()
