"""What each person has allowed each client, so the consent page is asked once."""

import time
from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.store.database import Database
from tessera.store.models import consents as _consents

__all__ = ["ConsentTable"]


class ConsentTable:
    """:class:`~tessera.store.protocols.Consents` over the ``consents`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, user_id: int, client_id: str) -> str | None:
        stmt = select(_consents.c.scope).where(_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        with self._db.read() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def resources(self, user_id: int, client_id: str) -> str | None:
        stmt = select(_consents.c.resources).where(_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        with self._db.read() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def save(self, user_id: int, client_id: str, scopes: Sequence[str], resources: Sequence[str] = ()) -> None:
        """Remember that the user granted ``scopes`` (and ``resources``) to the client, on top of what they granted
        before.

        Two consents at once (two tabs, two devices) must both land. The existing row is locked while its
        scopes are merged (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers); when
        there was no row yet, both may try to insert it, and the loser merges into the winner's row instead
        of failing (a PostgreSQL soak run found that 500).
        """
        where = (_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        for attempt in (1, 2):
            try:
                with self._db.write() as conn:
                    row = conn.execute(
                        select(_consents.c.scope, _consents.c.resources).where(*where).with_for_update()
                    ).one_or_none()
                    merged = " ".join(sorted(set(scopes) | set(("" if row is None else row.scope).split())))
                    reached = sorted(set(resources) | set(("" if row is None else row.resources or "").split()))
                    values = {"scope": merged, "granted_at": int(time.time()), "resources": " ".join(reached) or None}
                    if row is None:
                        conn.execute(insert(_consents).values(user_id=user_id, client_id=client_id, **values))
                    else:
                        conn.execute(update(_consents).where(*where).values(**values))
                return
            except IntegrityError:
                if attempt == 2:
                    raise
