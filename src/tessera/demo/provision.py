"""The demo's world: a fresh SQLite database with the user ``demo`` (password ``demo``), two declared scopes and
two clients.

- the scopes ``api`` and ``restricted``, declared with the descriptions the consent page shows, as
  ``tessera scopes create`` and ``update`` would (the database comes with ``api`` declared: its description is
  updated);

The password ``demo`` breaks the password policy (:func:`tessera.server.accounts.check_password`: too short, and
the username itself), and that is the point: it is the one everybody types to try the demo, in a database made
for the run on 127.0.0.1. So the demo creates its user without the policy (``policy=None``); ``tessera users
create`` and ``set-password`` always apply it.

- the demo app: a confidential authorization-code client (with refresh tokens) whose only redirect URI is the
  app's callback, allowed the scopes ``openid profile api restricted`` (it signs people in with OpenID Connect);
- the demo API: a client_credentials client registered as with ``tessera clients create --introspect``, the
  permission that lets a resource server introspect tokens issued to other clients.

- the demo API's URI as a resource (RFC 8707), as ``tessera resources create`` would: the app asks for tokens
  issued for it, and the API refuses any other.

Both secrets are minted here and handed to the apps in memory; the database keeps only their digests.
"""

from dataclasses import dataclass
from pathlib import Path

from tessera.config import Secret
from tessera.server.accounts import create_user
from tessera.server.registration import ClientMetadata, register_client
from tessera.server.resources import create_resource
from tessera.server.scopes import catalogue, create_scope, update_scope
from tessera.store import Store

__all__ = [
    "DATABASE_FILE",
    "PASSWORD",
    "SCOPE",
    "SCOPE_DESCRIPTIONS",
    "USERNAME",
    "DemoClients",
    "fresh_database",
    "provision",
]

#: the demo's SQLite file in its data directory (``--data-dir``), e.g. for ``TESSERA_DATABASE_URL``
DATABASE_FILE = "tessera-demo.db"
USERNAME = "demo"
PASSWORD = "demo"
SCOPE = "openid profile api restricted"
#: the demo's scopes, declared with what the consent page says of them
SCOPE_DESCRIPTIONS = {"api": "Use the API on your behalf", "restricted": "Reach restricted parts of the API"}


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


def _client(store: Store, metadata: ClientMetadata) -> tuple[str, Secret]:
    registered = register_client(store.clients, metadata, scopes=catalogue(store.scopes))
    assert registered.secret is not None  # both demo clients are confidential
    return registered.record.client_id, Secret(registered.secret)


def provision(
    store: Store, *, redirect_uri: str, resource: str | None = None, post_logout_redirect_uri: str | None = None
) -> DemoClients:
    """Declare the scopes, create the user and the two clients (and register ``resource``, the API's URI) in a
    migrated, empty database. ``post_logout_redirect_uri``: where the app asks sign-out at the server to send people
    back (OpenID Connect RP-Initiated Logout)."""
    for name, description in SCOPE_DESCRIPTIONS.items():
        if store.scopes.get(name) is None:
            create_scope(store.scopes, name, description)
        else:
            update_scope(store.scopes, name, description=description)
    create_user(store.users, USERNAME, PASSWORD, policy=None)  # the demo's contract: demo / demo
    if resource is not None:
        create_resource(store.resources, resource, name="Demo API", scopes=catalogue(store.scopes))
    app_id, app_secret = _client(
        store,
        ClientMetadata(
            "Demo app",
            redirect_uris=(redirect_uri,),
            grant_types=("authorization_code", "refresh_token"),
            scope=SCOPE,
            post_logout_redirect_uris=(post_logout_redirect_uri,) if post_logout_redirect_uri else (),
        ),
    )
    api_id, api_secret = _client(
        store, ClientMetadata("Demo API", grant_types=("client_credentials",), scope="api", introspect=True)
    )
    return DemoClients(app_id, app_secret, api_id, api_secret)
