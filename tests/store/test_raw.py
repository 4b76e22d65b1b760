"""The hot statements on the driver's cursor (``tessera.store.raw``): the same answers, errors, transactions and
statement counts as through ``Connection``, and every connection given back to the pool in the state it came in."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tessera.errors import NotFound, StoreError, StoreUnavailable
from tessera.store import CodeRecord, NewToken, Store, make_engine, upgrade
from tessera.store.db import StatementCounter, create_database_file
from tessera.store.devices import DEVICE_STATEMENTS
from tessera.store.failures import NO_SCHEMA
from tessera.store.raw import Hot
from tessera.store.tokens import _INSERT_TOKEN, HOT_STATEMENTS, _values
from tessera.store.users import USER_STATEMENTS
from tessera.tokens import random_id
from tests.conftest import register_client

#: the largest INTEGER: a code that does not expire
NEVER = 2**31 - 1


@pytest.fixture
def counted(database_url: str) -> Iterator[tuple[Store, StatementCounter]]:
    counter = StatementCounter()
    engine = make_engine(database_url, counter=counter)
    upgrade(engine)
    yield Store(engine), counter
    engine.dispose()


def _token(client_id: str, user_id: int | None, *, refresh: bool = True) -> NewToken:
    now = int(time.time())
    return NewToken(
        access_digest=random_id(32),
        refresh_digest=random_id(32) if refresh else None,
        client_id=client_id,
        user_id=user_id,
        scope="api",
        grant_id=random_id(),
        issued_at=now,
        expires_at=now + 3600,
        refresh_expires_at=now + 86_400 if refresh else None,
    )


def _given_back(engine: Engine) -> None:
    """Every connection is back in the pool as SQLAlchemy expects it: psycopg's out of autocommit."""
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]


def test_answers_are_the_records_they_were(counted: tuple[Store, StatementCounter]) -> None:
    store, _ = counted
    client = register_client(store).client_id
    user = store.users.create("alice", "x")
    token = _token(client, user.id)
    store.tokens.insert(token)

    active = store.tokens.active(token.access_digest)
    assert active is not None
    assert (active.client_id, active.user_id, active.username, active.scope) == (client, user.id, "alice", "api")
    assert (active.issued_at, active.expires_at) == (token.issued_at, token.expires_at)
    assert [type(v) for v in (active.user_id, active.issued_at, active.expires_at)] == [int, int, int]
    assert store.tokens.active(token.access_digest, now=token.expires_at) is None
    assert store.tokens.active("no-such-digest") is None

    assert token.refresh_digest is not None
    refresh = store.tokens.refresh(token.refresh_digest)
    assert refresh is not None
    assert (refresh.client_id, refresh.user_id, refresh.grant_id) == (client, user.id, token.grant_id)
    assert refresh.refresh_expires_at == token.refresh_expires_at
    assert refresh.refresh_used_at is None and refresh.revoked_at is None

    service = _token(client, None, refresh=False)
    store.tokens.insert(service)
    active = store.tokens.active(service.access_digest)
    assert active is not None and active.user_id is None and active.username is None
    _given_back(store.engine)


def test_statements_are_counted_as_before(counted: tuple[Store, StatementCounter]) -> None:
    """One per read and per INSERT; the transitions also count SQLite's BEGIN IMMEDIATE, as Connection did."""
    store, counter = counted
    client = register_client(store).client_id
    user = store.users.create("alice", "x")
    begin = 1 if store.engine.dialect.name == "sqlite" else 0
    first = _token(client, user.id)
    refresh = first.refresh_digest
    assert refresh is not None

    def statements(call: Callable[[], object]) -> int:
        before = counter.count
        call()
        return counter.count - before

    assert statements(lambda: store.tokens.insert(first)) == 1
    assert statements(lambda: store.tokens.active(first.access_digest)) == 1
    assert statements(lambda: store.tokens.refresh(refresh)) == 1
    assert statements(lambda: store.tokens.rotate_refresh(refresh, _token(client, user.id))) == begin + 2
    assert statements(lambda: store.tokens.rotate_refresh(refresh, _token(client, user.id))) == begin + 1
    store.tokens.save_code(
        CodeRecord("code", client, user.id, "http://127.0.0.1/cb", "api", None, None, "g", 2**31 - 1)
    )
    assert statements(lambda: store.tokens.redeem_code("code", _token(client, user.id))) == begin + 2
    assert statements(lambda: store.tokens.redeem_code("code", _token(client, user.id))) == begin + 1


def test_a_token_whose_owner_is_gone_is_not_found_and_changes_nothing(counted: tuple[Store, StatementCounter]) -> None:
    store, _ = counted
    client = register_client(store).client_id
    user = store.users.create("alice", "x")
    first = _token(client, user.id)
    assert first.refresh_digest is not None
    store.tokens.insert(first)
    store.tokens.save_code(
        CodeRecord("code", client, user.id, "http://127.0.0.1/cb", "api", None, None, "g", 2**31 - 1)
    )

    with pytest.raises(NotFound):
        store.tokens.insert(_token("no-such-client", user.id))
    with pytest.raises(NotFound):
        store.tokens.rotate_refresh(first.refresh_digest, _token("no-such-client", user.id))
    with pytest.raises(NotFound):
        store.tokens.redeem_code("code", _token(client, 999_999))

    # both transactions were rolled back: the refresh token and the code are still unused
    refresh = store.tokens.refresh(first.refresh_digest)
    assert refresh is not None and refresh.refresh_used_at is None and refresh.revoked_at is None
    assert store.tokens.active(first.access_digest) is not None
    code = store.tokens.code("code")
    assert code is not None and code.used_at is None
    _given_back(store.engine)


def test_no_schema_is_the_upgrade_message_and_gives_the_connection_back(database_url: str) -> None:
    create_database_file(database_url)  # on SQLite an empty file; a missing one is tests/store/test_sqlite_file.py
    engine = make_engine(database_url)
    store = Store(engine)
    calls: list[Callable[[], object]] = [
        lambda: store.tokens.active("d"),
        lambda: store.tokens.refresh("d"),
        lambda: store.tokens.insert(_token("c", None)),
        lambda: store.tokens.rotate_refresh("d", _token("c", None)),
        lambda: store.tokens.redeem_code("d", _token("c", None)),
    ]
    try:
        for call in calls:
            with pytest.raises(StoreError, match="tessera db upgrade") as caught:
                call()
            assert str(caught.value) == NO_SCHEMA
            _given_back(engine)
        upgrade(engine)
        assert store.tokens.active("d") is None  # and the same connections work once the schema is there
    finally:
        engine.dispose()


def test_a_pool_with_no_free_connection_in_time_is_unavailable(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    upgrade(engine)
    store = Store(engine)
    try:
        with engine.connect(), pytest.raises(StoreUnavailable):
            store.tokens.active("d")
        assert store.tokens.active("d") is None  # and fine again once a connection is free
    finally:
        engine.dispose()


def test_an_error_in_the_caller_rolls_back_and_gives_the_connection_back(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    token = _token(register_client(store).client_id, None)
    hot = Hot(engine, [_INSERT_TOKEN])
    try:
        with pytest.raises(RuntimeError), hot.connect(transaction=True) as run:
            run(_INSERT_TOKEN, _values(token))
            raise RuntimeError("the caller failed half-way")
        _given_back(engine)
        assert store.tokens.active(token.access_digest) is None
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM tokens")).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://"])
def test_hot_statements_need_no_type_conversion(url: str) -> None:
    """The cursor hands back what the driver gives: only right while no type of these statements converts."""
    dialect = create_engine(url).dialect  # connects to nothing
    for statement in (*HOT_STATEMENTS, *DEVICE_STATEMENTS, *USER_STATEMENTS):
        compiled: Any = statement.compile(dialect=dialect)
        assert not compiled._bind_processors, statement
        for column in compiled._result_columns:
            if statement in USER_STATEMENTS and column.name == "disabled":
                continue  # a Boolean: UserTable.by_id makes it one from SQLite's 0 or 1
            assert column.type.dialect_impl(dialect).result_processor(dialect, None) is None, (statement, column)


def test_a_user_read_on_the_hot_path_is_the_same_record(db_store: Store) -> None:
    """``by_id`` (every refresh and code redemption) reads through the prebuilt statement: the same record as the
    ``Connection`` path gives, the disabled flag a bool on both databases."""
    alice = db_store.users.create("alice", "a-hash", email="alice@example.com", name="Alice")
    assert db_store.users.by_id(alice.id) == db_store.users.by_name("alice") == alice
    db_store.users.disable("alice")
    disabled = db_store.users.by_id(alice.id)
    assert disabled is not None and disabled.disabled is True
    assert db_store.users.by_id(alice.id + 1000) is None


@pytest.mark.parametrize("prepared", [True, False])
def test_postgresql_prepares_the_hot_statements_unless_told_not_to(postgres_url: str, prepared: bool) -> None:
    """``TESSERA_PREPARED_STATEMENTS`` (on by default): a lookup that ran a few times on a connection is a prepared
    statement of that session; off (for a pooler that cannot keep them), nothing is ever prepared."""
    from tessera.config import Settings

    setting = "on" if prepared else "off"
    settings = Settings.from_env({"TESSERA_DATABASE_URL": postgres_url, "TESSERA_PREPARED_STATEMENTS": setting})
    assert settings.prepared_statements is prepared
    engine = make_engine(postgres_url, pool_size=1, prepared_statements=settings.prepared_statements)
    upgrade(engine)
    store = Store(engine)
    for _ in range(10):
        assert store.tokens.active("no-such-digest") is None
    with engine.connect() as conn:  # the pool's one connection, the one the lookups ran on
        statements = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
    assert any("FROM tokens" in s for s in statements) is prepared, statements
    engine.dispose()


def test_the_counter_leaves_out_the_threads_it_is_told_to(database_url: str) -> None:
    """The bench's SQL per operation counts a request's statements, not those of a thread working beside the
    requests (the audit trail's batched rows)."""
    import threading

    counter = StatementCounter(ignore_threads=["beside"])
    engine = make_engine(database_url, counter=counter)
    upgrade(engine)
    store = Store(engine)
    before = counter.count
    beside = threading.Thread(target=lambda: store.tokens.active("no-such-digest"), name="beside")
    beside.start()
    beside.join()
    assert counter.count == before
    store.tokens.active("no-such-digest")
    assert counter.count == before + 1
    engine.dispose()
