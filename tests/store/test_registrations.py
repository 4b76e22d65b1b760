"""The ``registrations`` and ``initial_access_tokens`` tables: a registration is one transaction, an initial
access token's uses are spent exactly once each, and the migration can be undone."""

import dataclasses
import threading
import time

from sqlalchemy import inspect

from tessera.store import ClientRecord, InitialAccessToken, RegistrationRecord, Store, make_engine, upgrade
from tessera.tokens import random_id
from tests.store.test_models import _migrate


def _client() -> ClientRecord:
    return ClientRecord(
        client_id=random_id(),
        secret_digest=None,
        name="App",
        redirect_uris=("https://app.example/cb",),
        grant_types=("authorization_code",),
        scope="api",
        public=True,
        may_introspect=False,
        created_at=int(time.time()),
    )


def _register(store: Store, initial: str | None, now: int = 100) -> bool:
    client = _client()
    registration = RegistrationRecord(client.client_id, random_id(32), "none", now)
    try:
        store.registrations.register(client, registration, initial=initial, now=now)
    except PermissionError:
        return False
    return True


def test_a_token_with_one_use_registers_one_client_however_many_race(db_store: Store) -> None:
    db_store.registrations.create_initial(InitialAccessToken("a" * 64, 1, None, 0))
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(_register(db_store, "a" * 64))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(db_store.clients.all()) == 1  # the refused ones stored nothing
    assert not db_store.registrations.initial_usable("a" * 64, 100)


def test_unlimited_and_expiring_tokens_and_purge(db_store: Store) -> None:
    db_store.registrations.create_initial(InitialAccessToken("b" * 64, None, 200, 0))
    db_store.registrations.create_initial(InitialAccessToken("c" * 64, 1, None, 0))
    assert all(_register(db_store, "b" * 64, now=150) for _ in range(3))
    assert not _register(db_store, "b" * 64, now=200)
    assert not _register(db_store, "d" * 64)  # unknown
    assert db_store.registrations.purge_initial(200) == 1  # the expired one; "c" still has its use
    assert db_store.registrations.initial_usable("c" * 64, 10_000)


def test_deleting_the_client_deletes_its_registration(db_store: Store) -> None:
    client = _client()
    db_store.registrations.register(
        client, RegistrationRecord(client.client_id, "e" * 64, "none", 1), initial=None, now=1
    )
    record = db_store.registrations.by_token("e" * 64)
    assert record is not None and record.client_id == client.client_id
    db_store.clients.delete(client.client_id)
    assert db_store.registrations.by_token("e" * 64) is None
    assert db_store.registrations.by_client(client.client_id) is None


def test_the_migration_adds_the_tables_and_can_be_undone(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"registrations", "initial_access_tokens"} <= tables
        _migrate(engine, "downgrade", "0010_openid")
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"registrations", "initial_access_tokens", "resources"}
        upgrade(engine)
        assert {"registrations", "initial_access_tokens"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_purge_unused_deletes_only_old_registrations_never_used(db_store: Store) -> None:
    old_unused, old_used, new_unused, by_hand = _client(), _client(), _client(), _client()
    for client, when in ((old_unused, 10), (old_used, 10), (new_unused, 500)):
        registration = RegistrationRecord(client.client_id, random_id(32), "none", when)
        db_store.registrations.register(client, registration, initial=None, now=when)
    db_store.clients.create(by_hand)  # registered by the operator: never purged
    user = db_store.users.create("alice", "x")
    db_store.consents.save(user.id, old_used.client_id, ["api"])
    heard: list[tuple[str, str]] = []
    db_store.listen(lambda kind, id: heard.append((kind, id)))
    assert db_store.registrations.purge_unused(100) == 1
    remaining = {c.client_id for c in db_store.clients.all()}
    assert remaining == {old_used.client_id, new_unused.client_id, by_hand.client_id}
    assert db_store.registrations.by_client(old_unused.client_id) is None
    assert heard == [("client", old_unused.client_id)]  # every process's client cache drops it
    assert db_store.registrations.purge_unused(100) == 0


def test_purge_unused_deletes_clients_stored_from_metadata_documents_never_used(db_store: Store) -> None:
    """Anyone can make the server store a client by pointing it at a document: those never used go too."""
    old_unused = dataclasses.replace(_client(), client_id="https://old.example/client.json", created_at=10)
    old_used = dataclasses.replace(_client(), client_id="http://127.0.0.1:8080/client.json", created_at=10)
    new_unused = dataclasses.replace(_client(), client_id="https://new.example/client.json", created_at=500)
    by_hand = dataclasses.replace(_client(), created_at=10)
    for client in (old_unused, old_used, new_unused, by_hand):
        db_store.clients.create(client)
    user = db_store.users.create("alice", "x")
    db_store.consents.save(user.id, old_used.client_id, ["api"])
    assert db_store.registrations.purge_unused(100) == 1
    remaining = {c.client_id for c in db_store.clients.all()}
    assert remaining == {old_used.client_id, new_unused.client_id, by_hand.client_id}
