"""Protected resources (RFC 8707): the ``resources`` table, a token's ``audience`` and what its grant covers
(``resources``) and the scope its refresh token keeps when the access token's was narrowed to one resource
(``grant_scope``), and the resources an authorization code and a remembered consent hold. Client registration
over HTTP (RFC 7591, RFC 7592): ``registrations`` (a registered client's registration access token, as a digest)
and ``initial_access_tokens`` (what ``TESSERA_REGISTRATION=token`` asks for, as digests). Every new column is
empty for existing rows: tokens issued before carry no audience, as before.

Revision ID: 0011_mcp
Revises: 0010_openid
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_mcp"
down_revision = "0010_openid"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never Alembic's batch mode: on SQLite that copies the table and drops the old one, and with
# foreign keys on, dropping ``clients`` would delete every token, code and consent through ON DELETE CASCADE.


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("uri", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.add_column("tokens", sa.Column("audience", sa.Text, nullable=True))
    op.add_column("tokens", sa.Column("resources", sa.Text, nullable=True))
    op.add_column("tokens", sa.Column("grant_scope", sa.Text, nullable=True))
    op.add_column("authorization_codes", sa.Column("resources", sa.Text, nullable=True))
    op.add_column("consents", sa.Column("resources", sa.Text, nullable=True))
    op.create_table(
        "registrations",
        sa.Column(
            "client_id",
            sa.String(64),
            sa.ForeignKey("clients.client_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("token_endpoint_auth_method", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
    )
    op.create_table(
        "initial_access_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("uses_left", sa.Integer, nullable=True),
        sa.Column("expires_at", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Forgets every registered resource and every token's audience: tokens issued for a resource then work for
    any API that does not check audiences, as every token did before. (SQLite drops a column from 3.35 on.)"""
    op.drop_table("initial_access_tokens")
    op.drop_table("registrations")
    op.drop_column("consents", "resources")
    op.drop_column("authorization_codes", "resources")
    op.drop_column("tokens", "grant_scope")
    op.drop_column("tokens", "resources")
    op.drop_column("tokens", "audience")
    op.drop_table("resources")
