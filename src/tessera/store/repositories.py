"""The only place that queries the database. Everything here takes and returns digests, never tokens.

The one-time transitions are single conditional statements inside one transaction with what they guard:
redeeming a code is ``UPDATE authorization_codes ... WHERE used_at IS NULL`` then the token ``INSERT``;
rotating a refresh token is ``UPDATE tokens ... WHERE refresh_used_at IS NULL AND revoked_at IS NULL`` then
the ``INSERT``. Two concurrent requests can never both see a row count of one. Methods that revoke return
the access-token digests they revoked, so callers can tell resource-server caches.
"""

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tessera.errors import AlreadyExists, NotFound
from tessera.store.db import WRITE, reader
from tessera.store.failures import translated
from tessera.store.models import authorization_codes as _codes
from tessera.store.models import clients as _clients
from tessera.store.models import consents as _consents
from tessera.store.models import tokens as _tokens
from tessera.store.models import users as _users
from tessera.store.raw import Hot
from tessera.store.records import (
    ActiveToken,
    ClientRecord,
    CodeRecord,
    NewToken,
    RefreshRecord,
    TokenRef,
    UserRecord,
)

__all__ = ["Store"]


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
    _tokens.c.scope,
    _tokens.c.grant_id,
    _tokens.c.refresh_expires_at,
    _tokens.c.refresh_used_at,
    _tokens.c.revoked_at,
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
# every column NewToken holds, bound by name; inline(): no RETURNING of the new row's id, which nothing reads
_INSERT_TOKEN = insert(_tokens).values({f.name: bindparam(f.name) for f in dataclasses.fields(NewToken)}).inline()
_HOT_STATEMENTS = (_ACTIVE_TOKEN, _REFRESH_TOKEN, _RETIRE_REFRESH, _CLAIM_CODE, _INSERT_TOKEN)
_CLIENT = select(_clients).where(_clients.c.client_id == bindparam("client_id"))
_USER_BY_ID = select(_users).where(_users.c.id == bindparam("user_id"))


class Store:
    """Typed access to Tessera's tables over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = reader(engine)
        self._hot = Hot(engine, _HOT_STATEMENTS)

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with translated(), self._reader.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with translated(), self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers."""
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")

    # users

    def create_user(self, username: str, password_hash: str) -> UserRecord:
        now = _now()
        try:
            with self._write() as conn:
                uid = conn.execute(
                    insert(_users)
                    .values(username=username, password_hash=password_hash, disabled=False, created_at=now)
                    .returning(_users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise AlreadyExists(f"user {username!r} already exists") from None
        return UserRecord(uid, username, password_hash, False, now)

    def user_by_name(self, username: str) -> UserRecord | None:
        with self._read() as conn:
            row = conn.execute(select(_users).where(_users.c.username == username)).one_or_none()
        return None if row is None else UserRecord(*row)

    def user_by_id(self, user_id: int) -> UserRecord | None:
        with self._read() as conn:
            row = conn.execute(_USER_BY_ID, {"user_id": user_id}).one_or_none()
        return None if row is None else UserRecord(*row)

    def list_users(self) -> list[UserRecord]:
        with self._read() as conn:
            return [UserRecord(*row) for row in conn.execute(select(_users).order_by(_users.c.username))]

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._write() as conn:
            conn.execute(update(_users).where(_users.c.id == user_id).values(password_hash=password_hash))

    def disable_user(self, username: str) -> list[str]:
        """Disable the user and revoke every token of theirs; return the revoked access digests."""
        with self._write() as conn:
            uid = conn.execute(
                update(_users).where(_users.c.username == username).values(disabled=True).returning(_users.c.id)
            ).scalar_one_or_none()
            if uid is None:
                raise NotFound(f"no user {username!r}")
            return self._revoke_where(conn, _tokens.c.user_id == uid)

    # clients

    def create_client(self, client: ClientRecord) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    insert(_clients).values(
                        client_id=client.client_id,
                        secret_digest=client.secret_digest,
                        name=client.name,
                        redirect_uris=list(client.redirect_uris),
                        grant_types=list(client.grant_types),
                        scope=client.scope,
                        public=client.public,
                        may_introspect=client.may_introspect,
                        created_at=client.created_at,
                    )
                )
        except IntegrityError:
            raise AlreadyExists(f"client {client.client_id!r} already exists") from None

    def client(self, client_id: str) -> ClientRecord | None:
        with self._read() as conn:
            row = conn.execute(_CLIENT, {"client_id": client_id}).one_or_none()
        return None if row is None else _client_record(row)

    def list_clients(self) -> list[ClientRecord]:
        with self._read() as conn:
            return [_client_record(r) for r in conn.execute(select(_clients).order_by(_clients.c.created_at))]

    def delete_client(self, client_id: str) -> list[str]:
        """Delete the client and its tokens, codes and consents; return the revoked access digests."""
        with self._write() as conn:
            revoked = self._revoke_where(conn, _tokens.c.client_id == client_id)
            for table in (_tokens, _codes, _consents):
                conn.execute(delete(table).where(table.c.client_id == client_id))
            if conn.execute(delete(_clients).where(_clients.c.client_id == client_id)).rowcount != 1:
                raise NotFound(f"no client {client_id!r}")
        return revoked

    def set_client_secret(self, client_id: str, secret_digest: str) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(_clients).where(_clients.c.client_id == client_id).values(secret_digest=secret_digest)
            )
            if result.rowcount != 1:
                raise NotFound(f"no client {client_id!r}")

    # authorization codes

    def save_code(self, code: CodeRecord) -> None:
        with self._write() as conn:
            conn.execute(
                insert(_codes).values(
                    digest=code.digest,
                    client_id=code.client_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    scope=code.scope,
                    code_challenge=code.code_challenge,
                    code_challenge_method=code.code_challenge_method,
                    grant_id=code.grant_id,
                    expires_at=code.expires_at,
                )
            )

    def code(self, digest: str) -> CodeRecord | None:
        with self._read() as conn:
            row = conn.execute(select(_codes).where(_codes.c.digest == digest)).one_or_none()
        return None if row is None else CodeRecord(**row._mapping)

    def redeem_code(self, code_digest: str, token: NewToken) -> bool:
        """Mark the code used and store ``token``, or do nothing and return False if it was used already."""
        with _owner_must_exist(), self._hot.connect(transaction=True) as run:
            if run(_CLAIM_CODE, {"code": code_digest, "at": token.issued_at}).rowcount != 1:
                return False
            run(_INSERT_TOKEN, _token_values(token))
        return True

    # tokens

    def insert_token(self, token: NewToken) -> None:
        with _owner_must_exist(), self._hot.connect() as run:
            run(_INSERT_TOKEN, _token_values(token))

    def active_token(self, access_digest: str, now: int | None = None) -> ActiveToken | None:
        """The unrevoked, unexpired access token with that digest, in one indexed query."""
        params = {"digest": access_digest, "now": _now() if now is None else now}
        with self._hot.connect() as run:
            row = run(_ACTIVE_TOKEN, params).fetchone()
        return None if row is None else ActiveToken(*row)

    def refresh_token(self, refresh_digest: str) -> RefreshRecord | None:
        with self._hot.connect() as run:
            row = run(_REFRESH_TOKEN, {"digest": refresh_digest}).fetchone()
        return None if row is None else RefreshRecord(*row)

    def rotate_refresh(self, refresh_digest: str, token: NewToken) -> str | None:
        """Retire the pair holding ``refresh_digest`` and store ``token``; return the retired access digest, or
        None (and store nothing) if the refresh token was used or revoked already."""
        with _owner_must_exist(), self._hot.connect(transaction=True) as run:
            retired = run(_RETIRE_REFRESH, {"digest": refresh_digest, "at": token.issued_at}).fetchone()
            if retired is None:
                return None
            run(_INSERT_TOKEN, _token_values(token))
        return str(retired[0])

    def token_ref(self, digest: str, *, refresh: bool) -> TokenRef | None:
        column = _tokens.c.refresh_digest if refresh else _tokens.c.access_digest
        with self._read() as conn:
            row = conn.execute(select(_tokens.c.client_id, _tokens.c.grant_id).where(column == digest)).one_or_none()
        return None if row is None else TokenRef(*row)

    def revoke_grant(self, grant_id: str) -> list[str]:
        """Revoke every token of one authorization (the family); return the revoked access digests."""
        with self._write() as conn:
            return self._revoke_where(conn, _tokens.c.grant_id == grant_id)

    def revoke_for_user(self, username: str) -> list[str]:
        with self._write() as conn:
            uid = conn.execute(select(_users.c.id).where(_users.c.username == username)).scalar_one_or_none()
            if uid is None:
                raise NotFound(f"no user {username!r}")
            return self._revoke_where(conn, _tokens.c.user_id == uid)

    def revoke_for_client(self, client_id: str) -> list[str]:
        with self._write() as conn:
            if conn.execute(select(_clients.c.client_id).where(_clients.c.client_id == client_id)).first() is None:
                raise NotFound(f"no client {client_id!r}")
            return self._revoke_where(conn, _tokens.c.client_id == client_id)

    def purge(self, now: int | None = None) -> int:
        """Delete token rows that can no longer be used, and spent or expired codes; return how many."""
        now = _now() if now is None else now
        with self._write() as conn:
            dead = or_(
                _tokens.c.revoked_at.is_not(None),
                and_(
                    _tokens.c.expires_at <= now,
                    or_(_tokens.c.refresh_expires_at.is_(None), _tokens.c.refresh_expires_at <= now),
                ),
            )
            # a used refresh token's row stays while its family may still be alive, so reuse is still detected
            live_families = select(_tokens.c.grant_id).where(
                _tokens.c.revoked_at.is_(None), _tokens.c.refresh_expires_at > now
            )
            removed = conn.execute(delete(_tokens).where(dead, _tokens.c.grant_id.not_in(live_families))).rowcount
            removed += conn.execute(delete(_codes).where(_codes.c.expires_at <= now - 86_400)).rowcount
        return removed

    @staticmethod
    def _revoke_where(conn: Connection, condition: object) -> list[str]:
        rows = conn.execute(
            update(_tokens)
            .where(condition, _tokens.c.revoked_at.is_(None))  # type: ignore[arg-type]
            .values(revoked_at=_now())
            .returning(_tokens.c.access_digest)
        )
        return [r[0] for r in rows]

    # consents

    def consent(self, user_id: int, client_id: str) -> str | None:
        stmt = select(_consents.c.scope).where(_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        with self._read() as conn:
            return conn.execute(stmt).scalar_one_or_none()

    def save_consent(self, user_id: int, client_id: str, scopes: Sequence[str]) -> None:
        """Remember that the user granted ``scopes`` to the client, on top of what they granted before.

        Two consents at once (two tabs, two devices) must both land. The existing row is locked while its
        scopes are merged (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers); when
        there was no row yet, both may try to insert it, and the loser merges into the winner's row instead
        of failing (a PostgreSQL soak run found that 500).
        """
        where = (_consents.c.user_id == user_id, _consents.c.client_id == client_id)
        for attempt in (1, 2):
            try:
                with self._write() as conn:
                    old = conn.execute(select(_consents.c.scope).where(*where).with_for_update()).scalar_one_or_none()
                    merged = " ".join(sorted(set(scopes) | set((old or "").split())))
                    if old is None:
                        values = {"user_id": user_id, "client_id": client_id, "scope": merged, "granted_at": _now()}
                        conn.execute(insert(_consents).values(**values))
                    else:
                        conn.execute(update(_consents).where(*where).values(scope=merged, granted_at=_now()))
                return
            except IntegrityError:
                if attempt == 2:
                    raise


@contextlib.contextmanager
def _owner_must_exist() -> Iterator[None]:
    """A token whose client or user was deleted meanwhile (a cached client) breaks a foreign key."""
    try:
        yield
    except IntegrityError:
        raise NotFound("the client or user of this token no longer exists") from None


def _client_record(row: object) -> ClientRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return ClientRecord(
        client_id=m["client_id"],
        secret_digest=m["secret_digest"],
        name=m["name"],
        redirect_uris=tuple(m["redirect_uris"]),
        grant_types=tuple(m["grant_types"]),
        scope=m["scope"],
        public=bool(m["public"]),
        may_introspect=bool(m["may_introspect"]),
        created_at=m["created_at"],
    )


def _token_values(token: NewToken) -> dict[str, object]:
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
    }
