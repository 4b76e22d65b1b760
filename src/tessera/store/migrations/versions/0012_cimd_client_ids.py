"""Client ids of up to 255 characters, for clients named by the URL of their client ID metadata document
(``tessera.server.client_documents``): ``clients.client_id`` and every column that refers to it.

On PostgreSQL the columns become ``VARCHAR(255)``, which rewrites no row. SQLite does not enforce a ``VARCHAR``
length, so the columns there keep their declared 64 and hold longer ids as they are: changing a declared type
on SQLite means copying the table, and dropping ``clients`` with foreign keys on would delete every token, code
and consent through ON DELETE CASCADE (see ``0011_mcp``).

Revision ID: 0012_cimd_client_ids
Revises: 0011_mcp
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_cimd_client_ids"
down_revision = "0011_mcp"
branch_labels = None
depends_on = None

#: the referring columns first going down, last going up: a foreign key's column may be wider than its target
_REFERRING = ("authorization_codes", "tokens", "consents", "device_authorizations", "registrations")


def _resize(length: int, tables: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.alter_column(table, "client_id", type_=sa.String(length), existing_nullable=False)


def upgrade() -> None:
    _resize(255, ("clients", *_REFERRING))


def downgrade() -> None:
    """Fails on PostgreSQL while a client id longer than 64 characters is stored: delete those clients first."""
    _resize(64, (*_REFERRING, "clients"))
