"""Migrations that change data, from the revision before them: what they do, and that one that refuses leaves the
database as it was."""

import importlib
from unittest.mock import ANY

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select, text

from tessera.app import create_app
from tessera.cli import main
from tessera.errors import StoreError
from tessera.server.accounts import normalise_username
from tessera.server.registration import ClientChanges, ClientMetadata, register_client, update_client
from tessera.server.scopes import catalogue
from tessera.store import ScopeRecord, Store, make_engine, upgrade
from tessera.store.models import clients, users
from tests.conftest import settings_for

_USERNAMES = importlib.import_module("tessera.store.migrations.versions.0004_usernames")


@pytest.fixture
def before(database_url: str):
    """A database at the revision before the usernames' migration."""
    engine = make_engine(database_url)
    upgrade(engine, "0003_sessions")
    yield engine
    engine.dispose()


def _add(engine: Engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            conn.execute(insert(users).values(username=name, password_hash="h", disabled=False, created_at=0))


def _state(engine: Engine) -> tuple[str, list[str]]:
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        names = list(conn.execute(select(users.c.username).order_by(users.c.id)).scalars())
    return version, names


def test_usernames_are_normalised_and_keep_their_accounts(before: Engine) -> None:
    _add(before, "Alice", "ＢＯＢ", "carol", "Straße")
    upgrade(before, "0004_usernames")
    assert _state(before) == ("0004_usernames", ["alice", "bob", "carol", "strasse"])
    upgrade(before, "0004_usernames")  # and again: nothing to do
    assert _state(before)[1] == ["alice", "bob", "carol", "strasse"]


def test_names_that_collide_once_normalised_stop_it_and_nothing_changes(before: Engine) -> None:
    _add(before, "Alice", "bob", "alice", "Zed", "ＡＬＩＣＥ")
    with pytest.raises(StoreError) as refused:
        upgrade(before)
    message = str(refused.value)
    assert "usernames 'Alice' and 'alice' and 'ＡＬＩＣＥ' are one name once normalised" in message
    assert "tessera users rename" in message and "nothing was changed" in message
    assert _state(before) == ("0003_sessions", ["Alice", "bob", "alice", "Zed", "ＡＬＩＣＥ"])


def test_db_upgrade_names_the_collisions_in_one_line(before: Engine, database_url: str, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    _add(before, "Mallory\x1b[2J", "mallory\x1b[2j")
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"TESSERA_DATABASE_URL": database_url})
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        "Error: could not upgrade the database: usernames 'Mallory\\x1b[2J' and 'mallory\\x1b[2j' are one name once "
        "normalised: rename all but one of each (tessera users rename OLD NEW) and run it again; nothing was "
        "changed\n"
    )
    assert _state(before)[0] == "0003_sessions"


def test_the_migration_normalises_as_sign_in_does() -> None:
    """The migration keeps a copy of the normalisation (it must not change with the code): today they agree, on
    every code point."""
    every = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    for start in range(0, len(every), 4096):
        chunk = "".join(every[start : start + 4096])
        assert _USERNAMES.normalised(chunk) == normalise_username(chunk)


@pytest.fixture
def before_scopes(database_url: str):
    """A database at the revision before the scopes' migration."""
    engine = make_engine(database_url)
    upgrade(engine, "0004_usernames")
    yield engine
    engine.dispose()


def _client(engine: Engine, client_id: str, scope: str) -> None:
    values = {"client_id": client_id, "secret_digest": "0" * 64, "name": client_id, "redirect_uris": [],
              "grant_types": ["client_credentials"], "scope": scope, "public": False, "may_introspect": False,
              "created_at": 0}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(clients).values(values))


def test_the_scopes_migration_declares_every_scope_clients_hold(before_scopes: Engine, database_url: str) -> None:
    """Nothing breaks on upgrade: what clients hold is declared (described if the server used to describe it),
    ``api`` is declared and granted by default, and the clients keep their scopes."""
    _client(before_scopes, "billing", "billing:read api")
    _client(before_scopes, "mobile", "offline_access  billing:read legacy%_x")
    upgrade(before_scopes)
    store = Store(before_scopes)
    assert [(s.name, s.description, s.default) for s in store.scopes.all()] == [
        ("api", "Use the API on your behalf", True),
        ("billing:read", "", False),
        ("email", "See your e-mail address", False),  # declared by the OpenID Connect migration after it
        ("legacy%_x", "", False),
        ("offline_access", "Keep access while you are away", False),
        ("openid", "Sign you in with your account here", False),
        ("profile", "See your username and name", False),
    ]
    assert {c.client_id: c.scope for c in store.clients.all()} == {
        "billing": "billing:read api",
        "mobile": "offline_access  billing:read legacy%_x",
    }
    declared = catalogue(store.scopes)
    moved = update_client(store.clients, "mobile", ClientChanges(scope="legacy%_x api"), scopes=declared)
    assert moved.scope == "legacy%_x api"
    assert register_client(store.clients, ClientMetadata("New"), scopes=declared).record.scope == "api"
    metadata = create_app(settings_for(database_url), store=store).test_client()
    scopes = metadata.get("/.well-known/oauth-authorization-server").json["scopes_supported"]
    assert scopes == ["api", "billing:read", "email", "legacy%_x", "offline_access", "openid", "profile"]


def test_a_new_database_declares_api_and_the_openid_connect_scopes(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert Store(engine).scopes.all() == [
            ScopeRecord("api", "Use the API on your behalf", True, ANY),
            ScopeRecord("email", "See your e-mail address", False, ANY),
            ScopeRecord("openid", "Sign you in with your account here", False, ANY),
            ScopeRecord("profile", "See your username and name", False, ANY),
        ]
    finally:
        engine.dispose()
