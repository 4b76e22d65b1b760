"""The ``resources`` table and the audience columns (RFC 8707): stored, read in the hot query, and migrated."""

import time

import pytest
from sqlalchemy import inspect, text

from tessera.errors import AlreadyExists, NotFound
from tessera.store import NewToken, ResourceRecord, Store, make_engine, upgrade
from tests.conftest import register_client
from tests.store.test_models import _migrate


def test_resources_are_stored_found_and_deleted(db_store: Store) -> None:
    db_store.resources.create(ResourceRecord("https://b.example/", "B", "api", 1))
    db_store.resources.create(ResourceRecord("https://a.example/", "A", None, 2))
    with pytest.raises(AlreadyExists):
        db_store.resources.create(ResourceRecord("https://a.example/", "again", None, 3))
    assert [r.uri for r in db_store.resources.all()] == ["https://a.example/", "https://b.example/"]
    found = db_store.resources.find(["https://b.example/", "https://c.example/"])
    assert found == {"https://b.example/": ResourceRecord("https://b.example/", "B", "api", 1)}
    db_store.resources.delete("https://b.example/")
    with pytest.raises(NotFound):
        db_store.resources.delete("https://b.example/")
    assert db_store.resources.find(["https://b.example/"]) == {}


def test_a_tokens_audience_comes_back_with_it_and_the_refresh_keeps_the_grants_scope(db_store: Store) -> None:
    client = register_client(db_store)
    now = int(time.time())
    token = NewToken(
        access_digest="a" * 64,
        refresh_digest="r" * 64,
        client_id=client.client_id,
        user_id=None,
        scope="api",
        grant_id="g",
        issued_at=now,
        expires_at=now + 60,
        refresh_expires_at=now + 600,
        audience="https://a.example/",
        resources="https://a.example/ https://b.example/",
        grant_scope="api restricted",
    )
    db_store.tokens.insert(token)
    active = db_store.tokens.active("a" * 64)
    assert active is not None and active.audience == "https://a.example/" and active.scope == "api"
    refresh = db_store.tokens.refresh("r" * 64)
    assert refresh is not None and refresh.scope == "api restricted"
    assert refresh.resources == "https://a.example/ https://b.example/"


def test_the_migration_adds_empty_columns_and_the_table_and_can_be_undone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0010_openid")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO clients (client_id, secret_digest, name, redirect_uris, grant_types, scope, public, "
                    "may_introspect, created_at) VALUES ('c', NULL, 'App', '[]', '[\"client_credentials\"]', 'api', "
                    "false, false, 0)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO tokens (access_digest, client_id, scope, grant_id, issued_at, expires_at) "
                    "VALUES (:d, 'c', 'api', 'g', 0, :exp)"
                ),
                {"d": "d" * 64, "exp": int(time.time()) + 60},
            )
        assert upgrade(engine, "0011_mcp").after == "0011_mcp"
        assert "resources" in inspect(engine).get_table_names()
        for table, columns in {
            "tokens": ("audience", "resources", "grant_scope"),
            "authorization_codes": ("resources",),
            "consents": ("resources",),
        }.items():
            nullable = {c["name"]: c["nullable"] for c in inspect(engine).get_columns(table)}
            assert all(nullable[c] is True for c in columns), table
        active = Store(engine).tokens.active("d" * 64)
        assert active is not None and active.audience is None  # issued before: no audience, as before
        _migrate(engine, "downgrade", "0010_openid")
        assert "resources" not in inspect(engine).get_table_names()
        assert "audience" not in {c["name"] for c in inspect(engine).get_columns("tokens")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM tokens")).scalar_one() == 1
    finally:
        engine.dispose()
