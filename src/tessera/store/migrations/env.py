"""Alembic environment: runs on the connection that ``tessera db upgrade`` hands over."""

from alembic import context

from tessera.store.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
