"""The demo's world: a fresh SQLite database with the user ``demo`` (password ``demo``) and two clients.

- the demo app: a confidential authorization-code client (with refresh tokens) whose only redirect URI is the
  app's callback, allowed the scopes ``api restricted``;
- the demo API: a client_credentials client registered as with ``tessera clients create --introspect``, the
  permission that lets a resource server introspect tokens issued to other clients.

Both secrets are minted here and handed to the apps in memory; the database keeps only their digests.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from tessera.config import Secret
from tessera.passwords import hash_password
from tessera.store import ClientRecord, Store
from tessera.tokens import TokenKind, digest, mint, random_id

__all__ = ["DATABASE_FILE", "PASSWORD", "SCOPE", "USERNAME", "DemoClients", "fresh_database", "provision"]

#: the demo's SQLite file in its data directory (``--data-dir``), e.g. for ``TESSERA_DATABASE_URL``
DATABASE_FILE = "tessera-demo.db"
USERNAME = "demo"
PASSWORD = "demo"
SCOPE = "api restricted"


@dataclass(frozen=True)
class DemoClients:
    """The registered clients and their secrets."""

    app_id: str
    app_secret: Secret
    api_id: str
    api_secret: Secret


def fresh_database(data_dir: Path) -> str:
    """Remove the database an earlier demo left in ``data_dir`` and return the SQLite URL for a new one."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (data_dir / (DATABASE_FILE + suffix)).unlink(missing_ok=True)
    return f"sqlite:///{data_dir / DATABASE_FILE}"


def _client(store: Store, name: str, **fields: object) -> tuple[str, Secret]:
    secret = mint(TokenKind.CLIENT_SECRET)
    record = ClientRecord(
        client_id=random_id(),
        secret_digest=digest(secret),
        name=name,
        public=False,
        created_at=int(time.time()),
        **fields,  # type: ignore[arg-type]
    )
    store.create_client(record)
    return record.client_id, Secret(secret)


def provision(store: Store, *, redirect_uri: str) -> DemoClients:
    """Create the user and the two clients in a migrated, empty database."""
    store.create_user(USERNAME, hash_password(PASSWORD))
    app_id, app_secret = _client(
        store,
        "Demo app",
        redirect_uris=(redirect_uri,),
        grant_types=("authorization_code", "refresh_token"),
        scope=SCOPE,
        may_introspect=False,
    )
    api_id, api_secret = _client(
        store,
        "Demo API",
        redirect_uris=(),
        grant_types=("client_credentials",),
        scope="api",
        may_introspect=True,
    )
    return DemoClients(app_id, app_secret, api_id, api_secret)
