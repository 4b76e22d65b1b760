"""Usernames in their normal form: NFKC, case folded, NFKC again, as sign-in now looks them up.

Before this, ``Alice`` and ``alice`` could be two accounts. If two stored names become one once normalised, the
migration stops before it changes anything and names them, so that an operator can rename all but one
(``tessera users rename``) and run it again; which account keeps the name is theirs to decide, not ours.

The normalisation is copied here rather than imported: a migration must do tomorrow what it does today, and
the storage layer does not import the server's rules. A test checks that the two agree.

Revision ID: 0004_usernames
Revises: 0003_sessions
Create Date: 2026-12-08
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

from tessera.errors import StoreError

revision = "0004_usernames"
down_revision = "0003_sessions"
branch_labels = None
depends_on = None

#: collisions named in the message; the rest are counted
_NAMED = 3


def normalised(username: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def upgrade() -> None:
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    groups: dict[str, list[str]] = {}
    for _, username in rows:
        groups.setdefault(normalised(username), []).append(username)
    collisions = [names for names in groups.values() if len(names) > 1]
    if collisions:
        # repr: a name may hold characters that would do things to a terminal
        named = "; ".join(" and ".join(repr(name) for name in names) for names in collisions[:_NAMED])
        more = f" (and {len(collisions) - _NAMED} more)" if len(collisions) > _NAMED else ""
        raise StoreError(
            f"usernames {named}{more} are one name once normalised: rename all but one of each "
            "(tessera users rename OLD NEW) and run it again; nothing was changed"
        )
    # no two rows share a normal form, and a name already normal keeps it, so no update meets another row's name
    for uid, username in rows:
        if normalised(username) != username:
            conn.execute(sa.update(users).where(users.c.id == uid).values(username=normalised(username)))


def downgrade() -> None:
    """Nothing to undo: the names as they were typed are not kept, and the normal forms are valid names."""
