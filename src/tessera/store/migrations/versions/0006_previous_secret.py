"""A client's previous secret, kept for a grace period after ``tessera clients rotate-secret --grace``: its digest
and when it stops working. Both empty for every client at first: no rotation had a grace before.

Revision ID: 0006_previous_secret
Revises: 0005_scopes
Create Date: 2026-12-15
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_previous_secret"
down_revision = "0005_scopes"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never Alembic's batch mode: on SQLite that copies the table and drops the old one, and with
# foreign keys on, dropping ``clients`` would delete every token, code and consent through ON DELETE CASCADE.


def upgrade() -> None:
    op.add_column("clients", sa.Column("previous_secret_digest", sa.String(64), nullable=True))
    op.add_column("clients", sa.Column("previous_secret_expires_at", sa.Integer, nullable=True))


def downgrade() -> None:
    """Forgets the previous secrets: a client in its grace period then has only its new secret. (SQLite drops
    a column from 3.35 on.)"""
    op.drop_column("clients", "previous_secret_expires_at")
    op.drop_column("clients", "previous_secret_digest")
