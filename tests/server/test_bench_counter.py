"""The bench-only SQL statement counter: exposed only when ``TESSERA_BENCH_COUNT_SQL=1``."""

import dataclasses

from flask.testing import FlaskClient

from tessera.config import Settings
from tessera.server import create_app
from tessera.store import Store
from tests.conftest import INTROSPECT, TOKEN, register_client


def test_counter_route_is_absent_by_default(client: FlaskClient) -> None:
    assert client.get("/_bench/sql-count").status_code == 404


def test_counter_counts_this_workers_statements(settings: Settings, store: Store) -> None:
    service = register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    app = create_app(dataclasses.replace(settings, count_sql=True))
    client = app.test_client()
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
