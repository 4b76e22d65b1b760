"""The sessions table: a session and its user in one read, the state the pages judge, and purge deleting exactly
what the pages would refuse; on SQLite and PostgreSQL."""

import time

import pytest

from tessera.errors import NotFound
from tessera.passwords import hash_password
from tessera.store import SessionRecord, Store
from tessera.tokens import digest, random_id

IDLE, MAX_AGE = 1800, 43200


def _session(store: Store, user_id: int, *, created: int, seen: int | None = None) -> SessionRecord:
    record = SessionRecord(
        digest(random_id(32)), random_id(), user_id, created, created, created if seen is None else seen
    )
    store.sessions.start(record)
    return record


def test_find_gives_the_session_and_its_user(db_store: Store) -> None:
    alice = db_store.users.create("alice", hash_password("pw"))
    now = int(time.time())
    record = _session(db_store, alice.id, created=now)
    found = db_store.sessions.find(record.digest)
    assert found == (record, alice)
    assert db_store.sessions.find(digest("no such secret")) is None


def test_a_session_for_a_user_that_does_not_exist_is_not_found(db_store: Store) -> None:
    with pytest.raises(NotFound):
        _session(db_store, 4242, created=int(time.time()))


def test_seen_moves_last_seen_forward_only_and_never_on_an_ended_session(db_store: Store) -> None:
    alice = db_store.users.create("alice", hash_password("pw"))
    now = int(time.time())
    record = _session(db_store, alice.id, created=now)
    db_store.sessions.seen(record.digest, now + 90)
    db_store.sessions.seen(record.digest, now + 60)  # a slower request that read the row before
    found = db_store.sessions.find(record.digest)
    assert found is not None and found[0].last_seen == now + 90
    db_store.users.disable("alice")
    db_store.sessions.seen(record.digest, now + 120)
    found = db_store.sessions.find(record.digest)
    assert found is not None and found[0].last_seen == now + 90 and found[0].ended_at is not None


def test_purge_deletes_exactly_the_sessions_that_can_no_longer_be_used(db_store: Store) -> None:
    alice = db_store.users.create("alice", hash_password("pw"))
    bob = db_store.users.create("bob", hash_password("pw"))
    now = int(time.time())
    live = _session(db_store, alice.id, created=now - 100)
    busy = _session(db_store, alice.id, created=now - MAX_AGE + 1, seen=now - 10)
    idle = _session(db_store, alice.id, created=now - 4000, seen=now - IDLE)
    old = _session(db_store, alice.id, created=now - MAX_AGE, seen=now - 10)
    ended = _session(db_store, bob.id, created=now - 100)
    db_store.users.disable("bob")

    kept = {r.digest for r in (live, busy)}
    for record in (live, busy, idle, old, ended):
        found = db_store.sessions.find(record.digest)
        assert found is not None
        assert found[0].usable(now, idle_timeout=IDLE, max_age=MAX_AGE) == (record.digest in kept), record

    assert db_store.sessions.purge(now, idle_timeout=IDLE, max_age=MAX_AGE) == 3
    assert {r.digest for r in (live, busy, idle, old, ended) if db_store.sessions.find(r.digest)} == kept
    assert db_store.sessions.purge(now, idle_timeout=IDLE, max_age=MAX_AGE) == 0


def test_delete_forgets_one_session(db_store: Store) -> None:
    alice = db_store.users.create("alice", hash_password("pw"))
    now = int(time.time())
    first, second = _session(db_store, alice.id, created=now), _session(db_store, alice.id, created=now)
    db_store.sessions.delete(first.digest)
    db_store.sessions.delete(first.digest)  # nothing left to delete: no error
    assert db_store.sessions.find(first.digest) is None
    assert db_store.sessions.find(second.digest) is not None
