"""Scopes as data: the ``scopes`` table, which the operator declares with ``tessera scopes``.

Before this, any scope a client was registered with existed by that fact alone. So that nothing breaks on
upgrade, every scope an existing client holds is declared, with no description (the consent page then shows its
name alone, as it did for a scope ``TESSERA_SCOPE_DESCRIPTIONS`` did not describe) unless it is one the server
used to describe by itself. ``api`` is declared in any case and granted by default, so that ``tessera clients
create`` without ``--scope`` gives a client ``api``, as it always has; no other scope is granted by default.

A held name is declared as it is, whatever its length: the length limits of :mod:`tessera.server.scopes` apply to
new names, and the columns are ``Text``. The built-in descriptions are copied here, not imported: a migration
must do tomorrow what it does today.

Revision ID: 0005_scopes
Revises: 0004_usernames
Create Date: 2026-12-15
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0005_scopes"
down_revision = "0004_usernames"
branch_labels = None
depends_on = None

#: what the consent page said of these scopes without being told
_BUILT_IN = {"api": "Use the API on your behalf", "offline_access": "Keep access while you are away"}
_DEFAULT = "api"


def upgrade() -> None:
    scopes = op.create_table(
        "scopes",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    clients = sa.table("clients", sa.column("scope", sa.Text))
    held = {name for (scope,) in op.get_bind().execute(sa.select(clients.c.scope)) for name in scope.split()}
    now = int(time.time())
    rows = [
        {"name": name, "description": _BUILT_IN.get(name, ""), "is_default": name == _DEFAULT, "created_at": now}
        for name in sorted(held | {_DEFAULT})
    ]
    op.bulk_insert(scopes, rows)


def downgrade() -> None:
    op.drop_table("scopes")
