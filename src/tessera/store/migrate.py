"""Schema migrations with Alembic, run from the package (no alembic.ini needed).

Alembic is imported when a migration runs, not with the package: server processes never migrate, and importing
it costs every worker about 10 MiB of resident memory (measured with bench/run.sh).

:func:`upgrade` reports the revision before and after (Alembic's ``MigrationContext``, read on the connection
the migrations run on, inside their transaction), so that ``tessera db upgrade`` can say what it did.
"""

import dataclasses
from pathlib import Path

from sqlalchemy import Connection, Engine

from tessera.store.db import create_database_file

__all__ = ["Upgraded", "head", "upgrade"]

_HERE = Path(__file__).parent / "migrations"


@dataclasses.dataclass(frozen=True)
class Upgraded:
    """What :func:`upgrade` did: the schema's revision before (``None``: there was no schema) and after."""

    before: str | None
    after: str | None

    @property
    def created(self) -> bool:
        return self.before is None and self.after is not None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(engine: Engine, revision: str = "head") -> Upgraded:
    """Create or migrate the schema to the newest revision (or to ``revision``: tests of a migration start from
    the one before it); running it again changes nothing. Every migration runs in one transaction: one that
    fails leaves the database as it was."""
    from alembic import command
    from alembic.config import Config

    create_database_file(engine.url)  # the one place a SQLite file is made: owner-only
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    with engine.begin() as conn:
        before = _current(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        after = _current(conn)
    return Upgraded(before, after)


def head() -> str:
    """The newest revision this package's migrations know: the one :func:`upgrade` brings a schema to."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    newest = ScriptDirectory.from_config(config).get_current_head()
    assert newest is not None, "the package has no migrations"
    return newest


def _current(conn: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
