"""Schema migrations with Alembic, run from the package (no alembic.ini needed)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

__all__ = ["upgrade"]

_HERE = Path(__file__).parent / "migrations"


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision; running it again changes nothing."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
