"""The tables the code queries are the tables the migrations create."""

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
