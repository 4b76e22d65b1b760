"""The device authorization grant (RFC 8628): a table of device authorizations, keyed by the device code's
digest, with the user code's digest unique. New and empty: nothing existing changes.

Revision ID: 0008_device
Revises: 0007_ops
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_device"
down_revision = "0007_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_authorizations",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("user_code_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("client_id", sa.String(64), sa.ForeignKey("clients.client_id", ondelete="CASCADE"), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("approved_at", sa.Integer, nullable=True),
        sa.Column("denied_at", sa.Integer, nullable=True),
        sa.Column("used_at", sa.Integer, nullable=True),
    )
    op.create_index("ix_device_authorizations_client_id", "device_authorizations", ["client_id"])
    op.create_index("ix_device_authorizations_user_id", "device_authorizations", ["user_id"])


def downgrade() -> None:
    """Forgets every pending device sign-in; tokens already issued from one stay."""
    op.drop_table("device_authorizations")
