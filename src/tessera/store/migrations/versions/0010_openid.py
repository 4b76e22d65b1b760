"""OpenID Connect: who a user is to clients, what an ID token needs, and the keys that sign ID tokens.

* ``users.subject``: the ``sub`` of ID tokens, userinfo and introspection. 16 random bytes in base64url, never
  derived from the row id (which SQLite may hand to the next user after a delete) nor from the username (which
  can change); every existing user gets one here. ``users.email`` and ``users.name``: the ``email`` and
  ``profile`` claims, empty at first.
* ``authorization_codes.nonce`` and ``.auth_time``: what the ID token issued for a code repeats (the request's
  ``nonce``, when the person signed in); ``tokens.auth_time`` carries the latter to the ID token of a refresh.
* ``clients.id_token_alg``: ``ES256`` for a client registered so, else empty (``RS256``).
* ``signing_keys``: the ID-token signing keys, the private half encrypted (:mod:`tessera.server.keys`).
* the scopes ``openid``, ``profile`` and ``email`` are declared, with a description for the consent page; one an
  operator declared already keeps theirs (an empty description is filled in).

Plain ``ALTER TABLE ... ADD COLUMN`` and indexes, never Alembic's batch mode (see ``0006_previous_secret``); the
subject column stays nullable in the schema for that reason (SQLite cannot add a NOT NULL column without a
default), and the application always fills it.

Revision ID: 0010_openid
Revises: 0009_dpop
Create Date: 2026-12-02
"""

import base64
import secrets
import time

import sqlalchemy as sa
from alembic import op

revision = "0010_openid"
down_revision = "0009_dpop"
branch_labels = None
depends_on = None

#: copied, not imported: a migration must do tomorrow what it does today
_SCOPES = {
    "openid": "Sign you in with your account here",
    "profile": "See your username and name",
    "email": "See your e-mail address",
}


def _subject() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def upgrade() -> None:
    op.add_column("users", sa.Column("subject", sa.String(32), nullable=True))
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.add_column("users", sa.Column("name", sa.String(200), nullable=True))
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("subject", sa.String))
    for (uid,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(sa.update(users).where(users.c.id == uid).values(subject=_subject()))
    op.create_index("ix_users_subject", "users", ["subject"], unique=True)

    op.add_column("authorization_codes", sa.Column("nonce", sa.Text, nullable=True))
    op.add_column("authorization_codes", sa.Column("auth_time", sa.Integer, nullable=True))
    op.add_column("tokens", sa.Column("auth_time", sa.Integer, nullable=True))
    op.add_column("clients", sa.Column("id_token_alg", sa.String(8), nullable=True))

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("retired_at", sa.Integer, nullable=True),
        sa.Column("public_jwk", sa.JSON, nullable=False),
        sa.Column("encrypted_private_key", sa.Text, nullable=False),
    )

    scopes = sa.table(
        "scopes",
        sa.column("name", sa.Text),
        sa.column("description", sa.Text),
        sa.column("is_default", sa.Boolean),
        sa.column("created_at", sa.Integer),
    )
    declared = dict(bind.execute(sa.select(scopes.c.name, scopes.c.description)).all())
    now = int(time.time())
    for name, description in _SCOPES.items():
        if name not in declared:
            bind.execute(sa.insert(scopes).values(name=name, description=description, is_default=False, created_at=now))
        elif not declared[name]:
            bind.execute(sa.update(scopes).where(scopes.c.name == name).values(description=description))


def downgrade() -> None:
    """Forgets subjects, e-mail addresses, names and signing keys; the three scopes stay declared (clients may
    hold them). (SQLite drops a column from 3.35 on.)"""
    op.drop_table("signing_keys")
    op.drop_column("clients", "id_token_alg")
    op.drop_column("tokens", "auth_time")
    op.drop_column("authorization_codes", "auth_time")
    op.drop_column("authorization_codes", "nonce")
    op.drop_index("ix_users_subject", table_name="users")
    op.drop_column("users", "name")
    op.drop_column("users", "email")
    op.drop_column("users", "subject")
