"""Tokens and authorization codes: the hot reads and the one-time transitions (RFC 6749 §4.1.2, RFC 9700 §4.14.2).

The one-time transitions are single conditional statements inside one transaction with what they guard:
redeeming a code is ``UPDATE authorization_codes ... WHERE used_at IS NULL`` then the token ``INSERT``;
rotating a refresh token is ``UPDATE tokens ... WHERE refresh_used_at IS NULL AND revoked_at IS NULL`` then
the ``INSERT``. Two concurrent requests can never both see a row count of one.
"""

import contextlib
import dataclasses
import time
from collections.abc import Iterator

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from tessera.errors import NotFound
from tessera.store.database import Database
from tessera.store.models import authorization_codes as _codes
from tessera.store.models import clients as _clients
from tessera.store.models import tokens as _tokens
from tessera.store.models import users as _users
from tessera.store.purge import Budget, delete_in_batches
from tessera.store.records import ActiveToken, CodeRecord, NewToken, RefreshRecord, TokenRef

__all__ = ["HOT_STATEMENTS", "INSERT_TOKEN", "TokenTable", "revoke_where", "token_values"]


def _now() -> int:
    return int(time.time())


# The statements of the hot paths, built once and run on the driver's cursor (see tessera.store.raw): building
# a statement per call and computing its cache key cost more than running the query (measured with
# bench/run.sh inproc), and so did Connection.execute. Bound values go in at execution.
_ACTIVE_TOKEN = (
    select(
        _tokens.c.client_id,
        _tokens.c.user_id,
        _users.c.username,
        _tokens.c.scope,
        _tokens.c.issued_at,
        _tokens.c.expires_at,
        _tokens.c.dpop_jkt,
        _users.c.subject,
        _tokens.c.audience,
    )
    .select_from(_tokens.outerjoin(_users, _users.c.id == _tokens.c.user_id))
    .where(
        _tokens.c.access_digest == bindparam("digest"),
        _tokens.c.revoked_at.is_(None),
        _tokens.c.expires_at > bindparam("now"),
    )
)
_REFRESH_TOKEN = select(
    _tokens.c.client_id,
    _tokens.c.user_id,
    func.coalesce(_tokens.c.grant_scope, _tokens.c.scope),
    _tokens.c.grant_id,
    _tokens.c.refresh_expires_at,
    _tokens.c.refresh_used_at,
    _tokens.c.revoked_at,
    _tokens.c.dpop_jkt,
    _tokens.c.auth_time,
    _tokens.c.resources,
).where(_tokens.c.refresh_digest == bindparam("digest"))
_RETIRE_REFRESH = (
    update(_tokens)
    .where(
        _tokens.c.refresh_digest == bindparam("digest"),
        _tokens.c.refresh_used_at.is_(None),
        _tokens.c.revoked_at.is_(None),
    )
    .values(refresh_used_at=bindparam("at"), revoked_at=bindparam("at"))
    .returning(_tokens.c.access_digest)
)
_CLAIM_CODE = (
    update(_codes)
    .where(_codes.c.digest == bindparam("code"), _codes.c.used_at.is_(None))
    .values(used_at=bindparam("at"))
)
_TOKEN_FIELDS = tuple(f.name for f in dataclasses.fields(NewToken))
# every column NewToken holds, bound by name; inline(): no RETURNING of the new row's id, which nothing reads
_INSERT_TOKEN = insert(_tokens).values({name: bindparam(name) for name in _TOKEN_FIELDS}).inline()
#: the token's ``INSERT``, for another table's one-time step that issues a token in its own transaction
INSERT_TOKEN = _INSERT_TOKEN
#: what :class:`~tessera.store.database.Database` compiles once and runs on the driver's cursor
HOT_STATEMENTS = (_ACTIVE_TOKEN, _REFRESH_TOKEN, _RETIRE_REFRESH, _CLAIM_CODE, _INSERT_TOKEN)


def revoke_where(conn: Connection, condition: ColumnElement[bool]) -> list[str]:
    """Revoke the live tokens matching ``condition`` in the caller's transaction; their access digests."""
    rows = conn.execute(
        update(_tokens)
        .where(condition, _tokens.c.revoked_at.is_(None))
        .values(revoked_at=_now())
        .returning(_tokens.c.access_digest)
    )
    return [r[0] for r in rows]


class TokenTable:
    """:class:`~tessera.store.protocols.Tokens` over the ``tokens`` and ``authorization_codes`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def active(self, access_digest: str, now: int | None = None) -> ActiveToken | None:
        """The unrevoked, unexpired access token with that digest, in one indexed query."""
        params = {"digest": access_digest, "now": _now() if now is None else now}
        with self._db.hot() as run:
            row = run(_ACTIVE_TOKEN, params).fetchone()
        return None if row is None else ActiveToken(*row)

    def insert(self, token: NewToken) -> None:
        with _owner_must_exist(), self._db.hot() as run:
            run(_INSERT_TOKEN, _values(token))

    # authorization codes

    def save_code(self, code: CodeRecord) -> None:
        with self._db.write() as conn:
            conn.execute(insert(_codes).values(dataclasses.asdict(code)))

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a code was issued to the client for a request with this ``nonce`` (one still stored: codes
        are deleted by ``tokens purge``)."""
        with self._db.read() as conn:
            found = conn.execute(
                select(_codes.c.digest).where(_codes.c.client_id == client_id, _codes.c.nonce == nonce).limit(1)
            ).first()
        return found is not None

    def code(self, code_digest: str) -> CodeRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(_codes).where(_codes.c.digest == code_digest)).one_or_none()
        return None if row is None else CodeRecord(**row._mapping)

    def redeem_code(self, code_digest: str, token: NewToken) -> bool:
        with _owner_must_exist(), self._db.hot(transaction=True) as run:
            if run(_CLAIM_CODE, {"code": code_digest, "at": token.issued_at}).rowcount != 1:
                return False
            run(_INSERT_TOKEN, _values(token))
        return True

    # refresh tokens

    def refresh(self, refresh_digest: str) -> RefreshRecord | None:
        with self._db.hot() as run:
            row = run(_REFRESH_TOKEN, {"digest": refresh_digest}).fetchone()
        return None if row is None else RefreshRecord(*row)

    def rotate_refresh(self, refresh_digest: str, token: NewToken) -> str | None:
        with _owner_must_exist(), self._db.hot(transaction=True) as run:
            retired = run(_RETIRE_REFRESH, {"digest": refresh_digest, "at": token.issued_at}).fetchone()
            if retired is None:
                return None
            run(_INSERT_TOKEN, _values(token))
        return str(retired[0])

    # revocation

    def ref(self, token_digest: str, *, refresh: bool) -> TokenRef | None:
        column = _tokens.c.refresh_digest if refresh else _tokens.c.access_digest
        stmt = (
            select(_tokens.c.client_id, _tokens.c.grant_id, _users.c.username)
            .select_from(_tokens.outerjoin(_users, _users.c.id == _tokens.c.user_id))
            .where(column == token_digest)
        )
        with self._db.read() as conn:
            row = conn.execute(stmt).one_or_none()
        return None if row is None else TokenRef(*row)

    def revoke_grant(self, grant_id: str) -> list[str]:
        """Revoke every token of one authorization (the family)."""
        with self._db.write() as conn:
            return revoke_where(conn, _tokens.c.grant_id == grant_id)

    def revoke_for_user(self, username: str) -> list[str]:
        with self._db.write() as conn:
            uid = conn.execute(select(_users.c.id).where(_users.c.username == username)).scalar_one_or_none()
            if uid is None:
                raise NotFound(f"no user {username!r}")
            return revoke_where(conn, _tokens.c.user_id == uid)

    def revoke_for_client(self, client_id: str) -> list[str]:
        with self._db.write() as conn:
            if conn.execute(select(_clients.c.client_id).where(_clients.c.client_id == client_id)).first() is None:
                raise NotFound(f"no client {client_id!r}")
            return revoke_where(conn, _tokens.c.client_id == client_id)

    def purge(self, now: int | None = None, budget: Budget | None = None) -> int:
        """Delete token rows that can no longer be used, in batches (:func:`~tessera.store.purge.delete_in_batches`);
        how many. A row is dead once revoked, or once its access token and its refresh token (if any) have
        expired; but every row of a family (``grant_id``) stays while one of its refresh tokens is still live, so
        that the reuse of a rotated-out refresh token is still detected and revokes the family."""
        at = _now() if now is None else now
        live = _tokens.alias("live")

        def dead(t: FromClause) -> ColumnElement[bool]:
            return and_(
                or_(
                    t.c.revoked_at.is_not(None),
                    and_(t.c.expires_at <= at, or_(t.c.refresh_expires_at.is_(None), t.c.refresh_expires_at <= at)),
                ),
                ~exists().where(
                    live.c.grant_id == t.c.grant_id, live.c.revoked_at.is_(None), live.c.refresh_expires_at > at
                ),
            )

        return delete_in_batches(self._db, _tokens, dead, budget or Budget())

    def purge_codes(self, now: int | None = None, budget: Budget | None = None) -> int:
        """Delete authorization codes a day after they expired, spent or not (until then a replayed code is
        recognised and revokes what it issued), in batches; how many."""
        cutoff = (_now() if now is None else now) - 86_400
        return delete_in_batches(self._db, _codes, lambda c: c.c.expires_at <= cutoff, budget or Budget())


@contextlib.contextmanager
def _owner_must_exist() -> Iterator[None]:
    """A token whose client or user was deleted meanwhile (a cached client) breaks a foreign key."""
    try:
        yield
    except IntegrityError:
        raise NotFound("the client or user of this token no longer exists") from None


def _values(token: NewToken) -> dict[str, object]:
    # spelled out: on the hot path, a loop over the fields with getattr costs twice as much
    return {
        "access_digest": token.access_digest,
        "refresh_digest": token.refresh_digest,
        "client_id": token.client_id,
        "user_id": token.user_id,
        "scope": token.scope,
        "grant_id": token.grant_id,
        "issued_at": token.issued_at,
        "expires_at": token.expires_at,
        "refresh_expires_at": token.refresh_expires_at,
        "dpop_jkt": token.dpop_jkt,
        "auth_time": token.auth_time,
        "audience": token.audience,
        "resources": token.resources,
        "grant_scope": token.grant_scope,
    }


#: the bound values of :data:`INSERT_TOKEN` for ``token``
token_values = _values
