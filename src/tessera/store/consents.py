"""What each person has allowed each client, so the consent page is asked once; what the account page lists and
takes back."""

import time
from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tessera.store.database import Database
from tessera.store.models import authorization_codes as _codes
from tessera.store.models import clients as _clients
from tessera.store.models import consents as _consents
from tessera.store.models import tokens as _tokens
from tessera.store.records import AllowedApp
from tessera.store.tokens import revoke_where

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

    def allowed(self, user_id: int) -> list[AllowedApp]:
        """Every client the user has allowed, with its name, the scope, when it was granted and when a token was
        last issued to it for the user (``None`` when none is on record), by client name."""
        last_used = (
            select(_tokens.c.client_id, func.max(_tokens.c.issued_at).label("last_used"))
            .where(_tokens.c.user_id == user_id)
            .group_by(_tokens.c.client_id)
            .subquery()
        )
        stmt = (
            select(
                _consents.c.client_id, _clients.c.name, _consents.c.scope, _consents.c.granted_at, last_used.c.last_used
            )
            .select_from(
                _consents.join(_clients, _clients.c.client_id == _consents.c.client_id).outerjoin(
                    last_used, last_used.c.client_id == _consents.c.client_id
                )
            )
            .where(_consents.c.user_id == user_id)
            .order_by(_clients.c.name, _consents.c.client_id)
        )
        with self._db.read() as conn:
            return [AllowedApp(*row) for row in conn.execute(stmt)]

    def withdraw(self, user_id: int, client_id: str) -> list[str] | None:
        """Forget the user's consent to the client and revoke every token and code the client holds for the user,
        in one transaction; the revoked access digests, or ``None`` if there was no consent to withdraw."""
        mine = (_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        with self._db.write() as conn:
            if conn.execute(delete(_consents).where(*mine)).rowcount == 0:
                return None
            # a code issued a moment ago would otherwise still buy tokens
            conn.execute(delete(_codes).where(_codes.c.user_id == user_id, _codes.c.client_id == client_id))
            return revoke_where(conn, (_tokens.c.user_id == user_id) & (_tokens.c.client_id == client_id))
