"""OpenID Connect RP-Initiated Logout 1.0 §3.1: ``clients.post_logout_redirect_uris``, where a client may ask the
end-session endpoint to send people after they signed out. Empty for existing clients: none is ever followed.

Plain ``ALTER TABLE ... ADD COLUMN``, never Alembic's batch mode (see ``0011_mcp``).

Revision ID: 0013_logout_redirect_uris
Revises: 0012_cimd_client_ids
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_logout_redirect_uris"
down_revision = "0012_cimd_client_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("post_logout_redirect_uris", sa.JSON, nullable=True))


def downgrade() -> None:
    """Forgets every registered post-logout redirect URI: sign-out then ends on the server's own page."""
    op.drop_column("clients", "post_logout_redirect_uris")
