"""DPoP (RFC 9449): the thumbprint of the key a token pair or an authorization code is bound to, and clients that
must always send a proof; and clients that authenticate with their own keys (``private_key_jwt``, RFC 7523): the
method and their public keys (a JWKS) or where to fetch them. Every existing token and code is a bearer one (no
thumbprint), no client requires DPoP, and every client keeps the method it had.

Revision ID: 0009_dpop
Revises: 0008_device
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_dpop"
down_revision = "0008_device"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never Alembic's batch mode (see 0006): on SQLite that would copy and drop ``clients``.


def upgrade() -> None:
    op.add_column("tokens", sa.Column("dpop_jkt", sa.String(43), nullable=True))
    op.add_column("authorization_codes", sa.Column("dpop_jkt", sa.String(43), nullable=True))
    op.add_column("clients", sa.Column("require_dpop", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("clients", sa.Column("auth_method", sa.String(32), nullable=True))
    op.add_column("clients", sa.Column("jwks", sa.JSON, nullable=True))
    op.add_column("clients", sa.Column("jwks_uri", sa.Text, nullable=True))


def downgrade() -> None:
    """Forgets every binding: DPoP-bound tokens become bearer tokens. (SQLite drops a column from 3.35 on.)"""
    op.drop_column("clients", "jwks_uri")
    op.drop_column("clients", "jwks")
    op.drop_column("clients", "auth_method")
    op.drop_column("clients", "require_dpop")
    op.drop_column("authorization_codes", "dpop_jkt")
    op.drop_column("tokens", "dpop_jkt")
