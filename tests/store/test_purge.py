"""Purging in batches, on SQLite and PostgreSQL: exactly the dead rows go whatever the batch size (a rotated-out
refresh token stays while its family lives), a purge stopped between batches leaves whole batches and the next one
finishes, and on PostgreSQL one purger at a time: while the lock is held, another skips and deletes nothing."""

import time

import pytest
from sqlalchemy import select, text

from tessera.server.purge import purge
from tessera.store import Budget, NewToken, Store, make_engine
from tessera.store.models import tokens as tokens_table
from tessera.store.purge import PURGE_LOCK_KEY, purge_lock
from tessera.tokens import random_id
from tests.conftest import register_client, settings_for

NOW = 1_900_000_000


def _token(client_id: str, grant_id: str, *, expires: int, refresh_expires: int | None = None) -> NewToken:
    return NewToken(
        access_digest=random_id(32),
        refresh_digest=None if refresh_expires is None else random_id(32),
        client_id=client_id,
        user_id=None,
        scope="api",
        grant_id=grant_id,
        issued_at=NOW - 100,
        expires_at=NOW + expires,
        refresh_expires_at=None if refresh_expires is None else NOW + refresh_expires,
    )


def _family_world(store: Store, families: int) -> tuple[set[str], set[str]]:
    """``families`` of each shape; the access digests that must stay and those that must go."""
    client_id = register_client(store).client_id
    keep: set[str] = set()
    gone: set[str] = set()
    for _ in range(families):
        live = _token(client_id, random_id(), expires=600)
        keep.add(live.access_digest)
        expired = _token(client_id, random_id(), expires=-1)
        gone.add(expired.access_digest)
        revoked_grant = random_id()
        revoked = _token(client_id, revoked_grant, expires=600, refresh_expires=86_400)
        gone.add(revoked.access_digest)
        # a live family: its rotated-out (revoked) row and its expired access token stay while its refresh lives
        family = random_id()
        rotated = _token(client_id, family, expires=-50, refresh_expires=86_000)
        current = _token(client_id, family, expires=-1, refresh_expires=86_400)
        keep |= {rotated.access_digest, current.access_digest}
        # a family whose refresh token expired: all of it goes
        ended = random_id()
        ended_rows = [_token(client_id, ended, expires=-90, refresh_expires=-10) for _ in range(2)]
        gone |= {t.access_digest for t in ended_rows}
        for token in (live, expired, revoked, rotated, current, *ended_rows):
            store.tokens.insert(token)
        store.tokens.revoke_grant(revoked_grant)
        with store.engine.begin() as conn:  # rotation revokes the old row (as rotate_refresh does)
            conn.execute(
                tokens_table.update()
                .where(tokens_table.c.access_digest == rotated.access_digest)
                .values(revoked_at=NOW - 50, refresh_used_at=NOW - 50)
            )
    return keep, gone


def _stored(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(tokens_table.c.access_digest)).scalars())


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_exactly_the_dead_rows_go_whatever_the_batch_size(db_store: Store, batch_size: int) -> None:
    keep, gone = _family_world(db_store, 6)

    assert db_store.tokens.purge(NOW, Budget(batch_size)) == len(gone)

    assert _stored(db_store) == keep
    assert db_store.tokens.purge(NOW, Budget(batch_size)) == 0  # idempotent
    assert _stored(db_store) == keep


class _Batches(Budget):
    """A budget that runs out after ``batches`` windows: a purge interrupted between two batches."""

    def __init__(self, batch_size: int, batches: int) -> None:
        super().__init__(batch_size)
        self.left = batches

    def spent(self) -> bool:
        if self.left <= 0:
            self.stopped = True
        self.left -= 1
        return self.stopped


def test_a_purge_stopped_between_batches_deleted_whole_batches_and_the_next_finishes(db_store: Store) -> None:
    keep, gone = _family_world(db_store, 10)  # 70 rows
    budget = _Batches(20, 2)

    first = db_store.tokens.purge(NOW, budget)

    assert budget.stopped and 0 < first < len(gone)
    assert keep <= _stored(db_store)
    assert db_store.tokens.purge(NOW, Budget(20)) == len(gone) - first
    assert _stored(db_store) == keep


def test_a_spent_budget_deletes_nothing_and_says_so(db_store: Store) -> None:
    _, gone = _family_world(db_store, 2)
    report = purge(db_store, settings_for("sqlite://"), Budget(100, deadline=time.monotonic() - 1), now=NOW)
    assert report.ran and not report.finished and report.total == 0
    assert len(_stored(db_store)) == 2 * 7
    report = purge(db_store, settings_for("sqlite://"), Budget(100), now=NOW)
    assert report.finished and dict(report.counts)["tokens"] == len(gone)


def test_codes_go_a_day_after_they_expired(db_store: Store) -> None:
    from tessera.store import CodeRecord

    registered = register_client(db_store)
    user = db_store.users.create("alice", "x")

    def code(expires_at: int) -> str:
        record = CodeRecord(
            digest=random_id(32),
            client_id=registered.client_id,
            user_id=user.id,
            redirect_uri="https://app.example/cb",
            scope="api",
            code_challenge=None,
            code_challenge_method=None,
            grant_id=random_id(),
            expires_at=expires_at,
        )
        db_store.tokens.save_code(record)
        return record.digest

    old, recent = code(NOW - 86_401), code(NOW - 60)
    assert db_store.tokens.purge_codes(NOW, Budget(10)) == 1
    assert db_store.tokens.code(old) is None and db_store.tokens.code(recent) is not None


@pytest.mark.postgres
def test_while_another_process_holds_the_lock_a_purge_skips_and_deletes_nothing(postgres_url: str) -> None:
    from tests.conftest import open_store, reset_postgres

    reset_postgres(postgres_url)
    with open_store(postgres_url) as store:
        _, gone = _family_world(store, 3)
        before = _stored(store)
        other = make_engine(postgres_url)  # another node: its own connection to the same database
        try:
            with other.connect() as conn:
                assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PURGE_LOCK_KEY}).scalar_one()
                report = purge(store, settings_for(postgres_url), Budget(10), now=NOW)
                assert not report.ran and report.total == 0
                assert _stored(store) == before
                with purge_lock(store.engine) as mine:
                    assert not mine
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PURGE_LOCK_KEY})

            with purge_lock(other) as mine:  # and the other way round: a purger holding it shuts out this one
                assert mine
                assert not purge(store, settings_for(postgres_url), Budget(10), now=NOW).ran
            report = purge(store, settings_for(postgres_url), Budget(10), now=NOW)
            assert report.ran and dict(report.counts)["tokens"] == len(gone)
            with other.connect() as conn:  # released at the end of the purge: nobody holds it
                held = conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
                ).scalar_one()
                assert held == 0
        finally:
            other.dispose()
