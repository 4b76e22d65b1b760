"""The DPoP and client-keys migration: new columns, empty (or false) for what was there, and a way back."""

from sqlalchemy import inspect, text

from tessera.store import Store, make_engine, upgrade
from tests.store.test_models import _migrate


def test_the_dpop_migration_leaves_every_token_a_bearer_token_and_can_be_undone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0008_device")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO clients (client_id, secret_digest, name, redirect_uris, grant_types, scope, public, "
                    "may_introspect, created_at) VALUES ('c', :d, 'App', '[]', '[\"client_credentials\"]', 'api', "
                    "false, false, 0)"
                ),
                {"d": "a" * 64},
            )
            conn.execute(
                text(
                    "INSERT INTO tokens (access_digest, client_id, scope, grant_id, issued_at, expires_at) "
                    "VALUES (:d, 'c', 'api', 'g', 0, 2000000000)"
                ),
                {"d": "b" * 64},
            )
        assert upgrade(engine, "0009_dpop").after == "0009_dpop"
        upgrade(engine)  # the Store reads the newest schema; later revisions leave these columns be
        store = Store(engine)
        client = store.clients.get("c")
        assert client is not None and client.require_dpop is False
        assert (client.auth_method, client.jwks, client.jwks_uri) == (None, None, None)  # keeps its secret
        token = store.tokens.active("b" * 64, 1)
        assert token is not None and token.jkt is None
        _migrate(engine, "downgrade", "0008_device")
        assert "dpop_jkt" not in {c["name"] for c in inspect(engine).get_columns("tokens")}
        assert "dpop_jkt" not in {c["name"] for c in inspect(engine).get_columns("authorization_codes")}
        client_columns = {c["name"] for c in inspect(engine).get_columns("clients")}
        assert not {"require_dpop", "auth_method", "jwks", "jwks_uri"} & client_columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT access_digest FROM tokens")).scalar_one() == "b" * 64
    finally:
        engine.dispose()
