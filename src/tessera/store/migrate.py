"""Schema migrations with Alembic, run from the package (no alembic.ini needed).

Alembic is imported when a migration runs, not with the package: server processes never migrate, and importing
it costs every worker about 10 MiB of resident memory (measured with bench/run.sh).
"""

from pathlib import Path

from sqlalchemy import Engine

from tessera.store.db import create_database_file

__all__ = ["upgrade"]

_HERE = Path(__file__).parent / "migrations"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema to the newest revision (or to ``revision``: tests of a migration start from
    the one before it); running it again changes nothing. Every migration runs in one transaction: one that
    fails leaves the database as it was."""
    from alembic import command
    from alembic.config import Config

    create_database_file(engine.url)  # the one place a SQLite file is made: owner-only
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
