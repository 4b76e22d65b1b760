"""Sign-in sessions: one row per sign-in, found by the digest of the secret in the cookie.

Storage never sees the secret. Whether a session may still be used (ended, idle too long, past its absolute
lifetime: :meth:`~tessera.store.records.SessionRecord.usable`; its user disabled) is decided by the pages
(:mod:`tessera.web.security`), which know the settings and the server's clock: :meth:`SessionTable.find` hands
them the row and its user in one indexed read. Ending every
session of a user happens inside the caller's transaction (:func:`end_sessions`), so that disabling a user or
changing a password ends their sessions in the same commit as the rest.
"""

import dataclasses

from sqlalchemy import ColumnElement, Connection, FromClause, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tessera.errors import NotFound
from tessera.store.database import Database
from tessera.store.models import sessions as _sessions
from tessera.store.models import users as _users
from tessera.store.purge import Budget, delete_in_batches
from tessera.store.records import SessionRecord, UserRecord

__all__ = ["SessionTable", "end_sessions"]

_SESSION_COLUMNS = tuple(_sessions.c[f.name] for f in dataclasses.fields(SessionRecord))
_USER_COLUMNS = tuple(_users.c[f.name] for f in dataclasses.fields(UserRecord))
_FIND = (
    select(*_SESSION_COLUMNS, *_USER_COLUMNS)
    .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id))
    .where(_sessions.c.digest == bindparam("digest"))
)
_SPLIT = len(_SESSION_COLUMNS)


def end_sessions(conn: Connection, user_id: int, now: int) -> int:
    """End every live session of ``user_id`` in the caller's transaction; how many."""
    ended = conn.execute(
        update(_sessions).where(_sessions.c.user_id == user_id, _sessions.c.ended_at.is_(None)).values(ended_at=now)
    )
    return ended.rowcount


class SessionTable:
    """:class:`~tessera.store.protocols.Sessions` over the ``sessions`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, session: SessionRecord) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(insert(_sessions).values(dataclasses.asdict(session)))
        except IntegrityError:
            # the user was deleted meanwhile (a digest or sid of 256 random bits does not collide)
            raise NotFound("the user of this session no longer exists") from None

    def find(self, digest: str) -> tuple[SessionRecord, UserRecord] | None:
        with self._db.read() as conn:
            row = conn.execute(_FIND, {"digest": digest}).one_or_none()
        if row is None:
            return None
        return SessionRecord(*row[:_SPLIT]), UserRecord(*row[_SPLIT:])

    def seen(self, digest: str, now: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(_sessions)
                .where(_sessions.c.digest == digest, _sessions.c.ended_at.is_(None), _sessions.c.last_seen < now)
                .values(last_seen=now)
            )

    def delete(self, digest: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(_sessions).where(_sessions.c.digest == digest))

    def purge(self, now: int, *, idle_timeout: int, max_age: int, budget: Budget | None = None) -> int:
        def dead(s: FromClause) -> ColumnElement[bool]:
            # what SessionRecord.usable refuses
            return or_(s.c.ended_at.is_not(None), s.c.last_seen <= now - idle_timeout, s.c.created_at <= now - max_age)

        return delete_in_batches(self._db, _sessions, dead, budget or Budget())
