"""Storage failures that are not the database's fault in the data: they surface as ``StoreUnavailable``
(HTTP 503 ``temporarily_unavailable``), never as a driver exception that would become a 500."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from tessera.errors import StoreUnavailable
from tessera.store import Store, make_engine, upgrade


def test_a_pool_with_no_free_connection_in_time_is_unavailable(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, pool_size=1, max_overflow=0, pool_timeout=0.05)
    store = Store(engine)
    held = engine.connect()
    try:
        with pytest.raises(StoreUnavailable):
            store.ping()
    finally:
        held.close()
        engine.dispose()
    store.ping()  # and fine again once a connection is free


def test_an_unreachable_database_is_unavailable(tmp_path) -> None:
    # a directory that does not exist: SQLite cannot open the file
    store = Store(create_engine(f"sqlite:///{tmp_path / 'missing' / 'tessera.db'}"))
    with pytest.raises(StoreUnavailable):
        store.ping()


@pytest.mark.parametrize(
    "read",
    [lambda store: store.tokens.active("d"), lambda store: store.users.by_id(1)],
    ids=["hot path on the driver's cursor", "through SQLAlchemy's Connection"],
)
def test_a_connection_found_closed_is_unavailable_then_replaced(
    database_url: str, read: Callable[[Store], object], request: pytest.FixtureRequest
) -> None:
    """SQLite reports it as a programming error ("Cannot operate on a closed database."), psycopg as an
    operational one; both are a lost connection."""
    if database_url.startswith("postgresql") and "SQLAlchemy" in request.node.callspec.id:
        # SQLAlchemy switches psycopg to autocommit before it wraps driver errors, and psycopg refuses that on a
        # connection closed on our side; one the server closed is dropped at checkout (test_database_faults.py)
        pytest.skip("a client-side close before the first statement is only caught on the hot path")
    engine = make_engine(database_url)
    upgrade(engine)
    closed: list[Any] = []

    @event.listens_for(engine, "checkout")
    def _close_the_first(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not closed:
            closed.append(dbapi_connection)
            dbapi_connection.close()

    store = Store(engine)
    try:
        with pytest.raises(StoreUnavailable):
            read(store)
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert closed and read(store) is None  # on a new connection
    finally:
        engine.dispose()
