"""The tables the code queries are the tables the migrations create."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import tessera.store
from tessera.store import make_engine, upgrade
from tessera.store.models import metadata


def test_the_migrations_create_exactly_the_schema_in_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_the_server_does_not_load_the_orm() -> None:
    """Core tables only: SQLAlchemy's ORM would cost each server worker about 6 MiB for nothing."""
    script = "import sys, tessera.server, tessera.store; print('sqlalchemy.orm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(tessera.store.__file__).parent / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def test_the_sessions_migration_adds_the_table_and_can_be_undone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        assert "sessions" not in inspect(engine).get_table_names()
        upgrade(engine, "0003_sessions")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0003_sessions"
        columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("sessions")}
        assert columns == {
            "digest": False,
            "sid": False,
            "user_id": False,
            "created_at": False,
            "auth_time": False,
            "last_seen": False,
            "ended_at": True,
        }
        assert inspect(engine).get_pk_constraint("sessions")["constrained_columns"] == ["digest"]
        (foreign_key,) = inspect(engine).get_foreign_keys("sessions")
        assert foreign_key["referred_table"] == "users" and foreign_key["options"].get("ondelete") == "CASCADE"
        assert ["user_id"] in [i["column_names"] for i in inspect(engine).get_indexes("sessions")]
        _migrate(engine, "downgrade", "0002")
        assert "sessions" not in inspect(engine).get_table_names()
        assert {"users", "tokens", "clients", "consents", "authorization_codes"} <= set(
            inspect(engine).get_table_names()
        )
        upgrade(engine)  # and up again
        assert "sessions" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_scopes_migration_adds_the_table_and_can_be_undone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0004_usernames")
        assert "scopes" not in inspect(engine).get_table_names()
        upgrade(engine, "0005_scopes")
        columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("scopes")}
        assert columns == {"name": False, "description": False, "is_default": False, "created_at": False}
        assert inspect(engine).get_pk_constraint("scopes")["constrained_columns"] == ["name"]
        _migrate(engine, "downgrade", "0004_usernames")
        assert "scopes" not in inspect(engine).get_table_names()
        upgrade(engine)  # and up again
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM scopes ORDER BY name")).scalars().all() == [
                "api",
                "email",
                "openid",
                "profile",
            ]
    finally:
        engine.dispose()


def test_the_device_migration_adds_the_table_and_can_be_undone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0007_ops")
        assert "device_authorizations" not in inspect(engine).get_table_names()
        upgrade(engine, "0008_device")
        columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("device_authorizations")}
        assert columns == {
            "digest": False,
            "user_code_digest": False,
            "client_id": False,
            "scope": False,
            "grant_id": False,
            "created_at": False,
            "expires_at": False,
            "user_id": True,
            "approved_at": True,
            "denied_at": True,
            "used_at": True,
        }
        assert inspect(engine).get_pk_constraint("device_authorizations")["constrained_columns"] == ["digest"]
        foreign_keys = {
            fk["referred_table"]: fk["options"].get("ondelete")
            for fk in inspect(engine).get_foreign_keys("device_authorizations")
        }
        assert foreign_keys == {"clients": "CASCADE", "users": "CASCADE"}
        unique: list[list[str | None]] = [
            list(c["column_names"]) for c in inspect(engine).get_unique_constraints("device_authorizations")
        ]
        unique += [list(i["column_names"]) for i in inspect(engine).get_indexes("device_authorizations") if i["unique"]]
        assert ["user_code_digest"] in unique
        _migrate(engine, "downgrade", "0007_ops")
        assert "device_authorizations" not in inspect(engine).get_table_names()
        assert "clients" in inspect(engine).get_table_names()
        upgrade(engine)  # and up again
        assert "device_authorizations" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
