"""The index on ``tokens.refresh_expires_at`` is named for its column.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite has no ALTER INDEX ... RENAME: drop and create, which both databases do in one transaction
    op.drop_index("ix_tokens_expires_at", table_name="tokens")
    op.create_index("ix_tokens_refresh_expires_at", "tokens", ["refresh_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tokens_refresh_expires_at", table_name="tokens")
    op.create_index("ix_tokens_expires_at", "tokens", ["refresh_expires_at"])
