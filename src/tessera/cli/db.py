"""``tessera db``: the schema. ``db upgrade`` says what it did, from the revisions before and after."""

import click

from tessera.cli.base import fail, handled, load_settings, main
from tessera.errors import TesseraError
from tessera.server.keys import KeyEncryption, ensure_keys
from tessera.store import Store, make_engine, upgrade


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@handled
def db_upgrade() -> None:
    """Create or migrate the schema (idempotent)."""
    settings = load_settings()
    engine = make_engine(settings.database_url, prepared_statements=settings.prepared_statements)
    try:
        upgraded = upgrade(engine)
    except TesseraError as exc:  # a migration that refused, saying why
        fail(f"could not upgrade the database: {exc}")
    except Exception as exc:  # any driver error: say what failed, in one line
        fail(f"could not upgrade the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    else:
        # in production without a key to encrypt them with (an administrator's shell without the server's
        # secrets), the server makes them when it first needs them
        can_encrypt = settings.key_encryption_key is not None or not settings.production
        made = ensure_keys(Store(engine).signing_keys, KeyEncryption.from_settings(settings)) if can_encrypt else []
    finally:
        engine.dispose()
    if upgraded.created:
        click.echo(f"Created the schema (revision {upgraded.after}).")
    elif upgraded.changed:
        click.echo(f"Upgraded the schema from {upgraded.before} to {upgraded.after}.")
    else:
        click.echo(f"The schema is up to date (revision {upgraded.after}).")
    if made:
        click.echo(f"Made the ID-token signing keys {', '.join(r.kid for r in made)}.")
