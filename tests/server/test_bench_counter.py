"""The bench-only SQL statement counter: exposed only when ``TESSERA_BENCH_COUNT_SQL=1``."""

import dataclasses

from flask.testing import FlaskClient

from tessera.app import build
from tessera.config import Settings
from tessera.store import Store, upgrade
from tests.conftest import INTROSPECT, TOKEN, register_client, settings_for


def test_counter_route_is_absent_by_default(client: FlaskClient) -> None:
    assert client.get("/_bench/sql-count").status_code == 404


def test_counter_counts_this_workers_statements(settings: Settings, store: Store) -> None:
    service = register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    built = build(dataclasses.replace(settings, count_sql=True))
    client = built.flask.test_client()
    token = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).json
    assert token is not None

    def count() -> int:
        body = client.get("/_bench/sql-count").json
        assert body is not None
        return int(body["statements"])

    before = count()
    assert count() == before  # reading the counter runs no SQL
    answer = client.post(INTROSPECT, data={"token": token["access_token"]}, headers=service.basic).json
    assert answer is not None and answer["active"] is True
    assert count() > before
    built.store.close()


def test_hot_paths_run_one_statement_per_introspection_and_at_most_two_per_issuance(database_url: str) -> None:
    """The hot paths as designed: the client comes from the cache, introspection is one indexed SELECT, issuance one
    INSERT (on its own, with no BEGIN around it, on both databases). The audit trail's rows are not the request's:
    ``tessera serve`` writes them in batches from a thread of their own (see test_audit_rows_are_batched_off_the_
    request_path), so here it writes the log line only."""
    settings = settings_for(database_url, TESSERA_BENCH_COUNT_SQL="1", TESSERA_AUDIT="log")
    built = build(settings)
    store = built.store
    upgrade(store.engine)
    service = register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    client = built.flask.test_client()
    counter = built.counter
    assert counter is not None

    def statements(path: str, data: dict[str, str]) -> int:
        before = counter.count
        response = client.post(path, data=data, headers=service.basic)
        assert response.status_code == 200, response.get_data(as_text=True)
        return int(counter.count - before)

    try:
        token = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).json
        assert token is not None
        assert statements(TOKEN, {"grant_type": "client_credentials"}) == 1
        assert statements(INTROSPECT, {"token": token["access_token"]}) == 1
        assert statements(INTROSPECT, {"token": "not-a-token"}) == 0
    finally:
        store.engine.dispose()
