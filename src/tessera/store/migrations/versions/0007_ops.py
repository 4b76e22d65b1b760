"""The audit trail: ``audit_events``, one row per event (:mod:`tessera.server.audit`), indexed for what
``tessera audit list`` asks (the newest first; one user's; one client's). A new table and nothing else changes.

Revision ID: 0007_ops
Revises: 0006_previous_secret
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_ops"
down_revision = "0006_previous_secret"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("client_id", sa.Text, nullable=True),
        sa.Column("username", sa.String(150), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_username_at", "audit_events", ["username", "at"])
    op.create_index("ix_audit_events_client_id_at", "audit_events", ["client_id", "at"])


def downgrade() -> None:
    """Forgets the audit trail."""
    op.drop_table("audit_events")
