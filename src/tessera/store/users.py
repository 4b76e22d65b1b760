"""People who sign in. The rules for a username or a password live in :mod:`tessera.server.accounts`.

Disabling a user and changing their password end their sessions and revoke their tokens in the same transaction
as the change itself: either all of it happens or none of it. Deleting a user deletes their rows in every table
in one transaction too, child tables first: the foreign keys would cascade, but SQLite enforces them only on
connections that turned them on, so the deletes are spelled out rather than left to the schema.
"""

import base64
import secrets
import time

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.errors import AlreadyExists, NotFound
from tessera.store.database import Database
from tessera.store.models import authorization_codes as _codes
from tessera.store.models import consents as _consents
from tessera.store.models import sessions as _sessions
from tessera.store.models import tokens as _tokens
from tessera.store.models import users as _users
from tessera.store.records import UserRecord
from tessera.store.sessions import end_sessions
from tessera.store.tokens import revoke_where

__all__ = ["USER_STATEMENTS", "UserTable", "new_subject"]

_BY_ID = select(_users).where(_users.c.id == bindparam("user_id"))
#: what :class:`~tessera.store.database.Database` prebuilds: the look-up every code redemption and refresh makes
USER_STATEMENTS = (_BY_ID,)


def new_subject() -> str:
    """A user's ``sub``: 16 random bytes in base64url (22 characters). Random rather than derived from the row id
    (which SQLite may give the next user after a delete) or the username (which can change), so it is never
    reassigned and says nothing about the account."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


class UserTable:
    """:class:`~tessera.store.protocols.Users` over the ``users`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self, username: str, password_hash: str, *, email: str | None = None, name: str | None = None
    ) -> UserRecord:
        now = int(time.time())
        subject = new_subject()
        try:
            with self._db.write() as conn:
                uid = conn.execute(
                    insert(_users)
                    .values(
                        username=username,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=now,
                        subject=subject,
                        email=email,
                        name=name,
                    )
                    .returning(_users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise AlreadyExists(f"user {username!r} already exists") from None
        return UserRecord(uid, username, password_hash, False, now, subject, email, name)

    def update_profile(self, username: str, **changes: str | None) -> UserRecord:
        """Set ``email`` and/or ``name`` (``None`` clears one); the user as they now are."""
        with self._db.write() as conn:
            uid = conn.execute(
                update(_users).where(_users.c.username == username).values(**changes).returning(_users.c.id)
            ).scalar_one_or_none()
            if uid is None:
                raise NotFound(f"no user {username!r}")
            return UserRecord(*conn.execute(_BY_ID, {"user_id": uid}).one())

    def by_name(self, username: str) -> UserRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(_users).where(_users.c.username == username)).one_or_none()
        return None if row is None else UserRecord(*row)

    def by_id(self, user_id: int) -> UserRecord | None:
        # on the hot path of every code redemption and refresh: the prebuilt statement, one round trip
        with self._db.hot() as run:
            row = run(_BY_ID, {"user_id": user_id}).fetchone()
        if row is None:
            return None
        uid, username, password_hash, disabled, *rest = row
        return UserRecord(uid, username, password_hash, bool(disabled), *rest)  # SQLite gives the flag as 0 or 1

    def all(self) -> list[UserRecord]:
        with self._db.read() as conn:
            return [UserRecord(*row) for row in conn.execute(select(_users).order_by(_users.c.username))]

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._db.write() as conn:
            conn.execute(update(_users).where(_users.c.id == user_id).values(password_hash=password_hash))

    def change_password(self, username: str, password_hash: str) -> list[str]:
        with self._db.write() as conn:
            uid, revoked = _sign_out_everywhere(conn, username, password_hash=password_hash)
        self._db.changed("user", str(uid))
        return revoked

    def rename(self, username: str, new_username: str) -> None:
        try:
            with self._db.write() as conn:
                uid = conn.execute(
                    update(_users)
                    .where(_users.c.username == username)
                    .values(username=new_username)
                    .returning(_users.c.id)
                ).scalar_one_or_none()
                if uid is None:
                    raise NotFound(f"no user {username!r}")
        except IntegrityError:
            raise AlreadyExists(f"user {new_username!r} already exists") from None
        self._db.changed("user", str(uid))

    def disable(self, username: str) -> list[str]:
        with self._db.write() as conn:
            uid, revoked = _sign_out_everywhere(conn, username, disabled=True)
        self._db.changed("user", str(uid))
        return revoked

    def enable(self, username: str) -> None:
        with self._db.write() as conn:
            uid = conn.execute(
                update(_users).where(_users.c.username == username).values(disabled=False).returning(_users.c.id)
            ).scalar_one_or_none()
            if uid is None:
                raise NotFound(f"no user {username!r}")
        self._db.changed("user", str(uid))

    def delete(self, username: str) -> list[str]:
        with self._db.write() as conn:
            uid = conn.execute(select(_users.c.id).where(_users.c.username == username)).scalar_one_or_none()
            if uid is None:
                raise NotFound(f"no user {username!r}")
            revoked = revoke_where(conn, _tokens.c.user_id == uid)
            for table in (_tokens, _codes, _consents, _sessions):
                conn.execute(delete(table).where(table.c.user_id == uid))
            conn.execute(delete(_users).where(_users.c.id == uid))
        self._db.changed("user", str(uid))
        return revoked


def _sign_out_everywhere(conn: Connection, username: str, **changes: object) -> tuple[int, list[str]]:
    """Apply ``changes`` to the user, end their sessions and revoke their tokens; the user's id and the revoked
    access digests."""
    uid = conn.execute(
        update(_users).where(_users.c.username == username).values(**changes).returning(_users.c.id)
    ).scalar_one_or_none()
    if uid is None:
        raise NotFound(f"no user {username!r}")
    end_sessions(conn, uid, int(time.time()))
    return uid, revoke_where(conn, _tokens.c.user_id == uid)
