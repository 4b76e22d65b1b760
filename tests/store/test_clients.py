"""The clients repository: what it refuses, on both databases."""

import dataclasses

import pytest
from sqlalchemy import inspect

from tessera.errors import AlreadyExists, NotFound
from tessera.store import Store, make_engine, upgrade
from tests.conftest import register_client
from tests.store.test_models import _migrate
from tests.test_cli import _insert_token


def test_a_taken_id_an_unknown_client_and_an_update_leave_the_rest_alone(db_store: Store) -> None:
    registered = register_client(db_store)
    with pytest.raises(AlreadyExists):
        db_store.clients.create(registered.record)
    unknown = dataclasses.replace(registered.record, client_id="no-such-client")
    with pytest.raises(NotFound):
        db_store.clients.update(unknown)
    with pytest.raises(NotFound):
        db_store.clients.set_secret("no-such-client", "0" * 64)
    with pytest.raises(NotFound):
        db_store.clients.delete("no-such-client")
    renamed = dataclasses.replace(registered.record, name="Renamed", secret_digest=None, created_at=0)
    db_store.clients.update(renamed)
    stored = db_store.clients.get(registered.record.client_id)
    # the name changed; the secret and the creation time are not update's to change
    assert stored == dataclasses.replace(registered.record, name="Renamed")


def test_a_new_secret_keeps_the_one_it_replaced_only_when_asked(db_store: Store) -> None:
    registered = register_client(db_store)
    client_id, first = registered.client_id, registered.record.secret_digest
    db_store.clients.set_secret(client_id, "1" * 64, keep_previous_until=1_900_000_000)
    kept = db_store.clients.get(client_id)
    assert kept is not None and kept.secret_digest == "1" * 64
    assert (kept.previous_secret_digest, kept.previous_secret_expires_at) == (first, 1_900_000_000)
    # an update of the metadata leaves both secrets alone
    db_store.clients.update(dataclasses.replace(kept, name="Renamed", previous_secret_digest=None))
    assert db_store.clients.get(client_id) == dataclasses.replace(kept, name="Renamed")
    db_store.clients.set_secret(client_id, "2" * 64)
    replaced = db_store.clients.get(client_id)
    assert replaced is not None and replaced.secret_digest == "2" * 64
    assert replaced.previous_secret_digest is None and replaced.previous_secret_expires_at is None


def test_the_previous_secret_migration_adds_two_empty_columns_and_can_be_undone(database_url: str) -> None:
    from sqlalchemy import inspect, text

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0005_scopes")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO clients (client_id, secret_digest, name, redirect_uris, grant_types, scope, public, "
                    "may_introspect, created_at) VALUES ('c', :d, 'App', '[]', '[\"client_credentials\"]', 'api', "
                    "false, false, 0)"
                ),
                {"d": "a" * 64},
            )
        assert upgrade(engine, "0006_previous_secret").after == "0006_previous_secret"
        columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("clients")}
        assert columns["previous_secret_digest"] is True and columns["previous_secret_expires_at"] is True
        # read as the schema is at this revision: today's Store reads columns later revisions add
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT secret_digest, previous_secret_digest, previous_secret_expires_at FROM clients")
            ).one()
        assert tuple(stored) == ("a" * 64, None, None)
        _migrate(engine, "downgrade", "0005_scopes")
        assert "previous_secret_digest" not in {c["name"] for c in inspect(engine).get_columns("clients")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT secret_digest FROM clients")).scalar_one() == "a" * 64
    finally:
        engine.dispose()


def test_a_client_id_of_255_characters_is_stored_with_its_tokens_and_consents(db_store: Store) -> None:
    """A client ID metadata document's URL is the client's id (migration 0012_cimd_client_ids)."""
    url = "https://app.example/" + "c" * 235
    assert len(url) == 255
    registered = register_client(db_store, public=True)
    long = dataclasses.replace(registered.record, client_id=url)
    db_store.clients.create(long)
    user = db_store.users.create("alice", "x")
    db_store.consents.save(user.id, url, ["api"])
    _insert_token(db_store, url, user.id, refresh=True)
    assert db_store.clients.get(url) == long
    assert db_store.consents.get(user.id, url) == "api"
    assert len(db_store.tokens.revoke_for_client(url)) == 1


def test_the_client_id_migration_can_be_undone_and_done_again(database_url: str) -> None:
    from tessera.store import make_engine, upgrade
    from tests.store.test_models import _migrate

    engine = make_engine(database_url)
    try:
        upgrade(engine)
        _migrate(engine, "downgrade", "0011_mcp")
        lengths = {c["name"]: getattr(c["type"], "length", None) for c in inspect(engine).get_columns("clients")}
        assert lengths["client_id"] == 64
        upgrade(engine)
        lengths = {c["name"]: getattr(c["type"], "length", None) for c in inspect(engine).get_columns("tokens")}
        assert lengths["client_id"] == (64 if engine.dialect.name == "sqlite" else 255)
    finally:
        engine.dispose()
