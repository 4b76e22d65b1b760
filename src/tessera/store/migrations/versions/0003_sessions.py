"""Sign-in sessions kept by the server, so that they can end: on sign-out, when the user is disabled or changes
their password, after the idle timeout and the absolute lifetime.

Revision ID: 0003_sessions
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_sessions"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("sid", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("auth_time", sa.Integer, nullable=False),
        sa.Column("last_seen", sa.Integer, nullable=False),
        sa.Column("ended_at", sa.Integer),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])


def downgrade() -> None:
    op.drop_table("sessions")
