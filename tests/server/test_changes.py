"""Changes made by one process reach every other server process at once through Redis (tessera.server.changes);
without Redis, within the client cache's few seconds."""

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from tessera.cli import main
from tessera.store import Store, make_engine
from tessera.web.context import server_of
from tests.conftest import INTROSPECT, RegisteredClient, app_for, register_client


def _node(sqlite_url: str, redis_url: str | None, prefix: str) -> tuple[Flask, Store]:
    """A server process of its own: its own store (connections, caches) on the shared database."""
    store = Store(make_engine(sqlite_url))  # the database is migrated by the store fixture
    env = {"TESSERA_REDIS_PREFIX": prefix}
    if redis_url:
        env["TESSERA_REDIS_URL"] = redis_url
    app = app_for(store, sqlite_url, **env)
    if redis_url:
        changes = server_of(app).context.changes
        deadline = time.monotonic() + 5
        while not changes.following and time.monotonic() < deadline:
            time.sleep(0.01)
        assert changes.following
    return app, store


def _token_status(client: FlaskClient, registered: RegisteredClient) -> int:
    """Whether the node authenticates the client: introspection reads the client from the node's cache and writes
    nothing (a token request would also fail on the deleted row's foreign key)."""
    data = {"token": "tsr_at_unknown"}
    return client.post(INTROSPECT, data=data, headers=registered.basic).status_code


def _eventually_refused(client: FlaskClient, registered: RegisteredClient, within: float) -> float:
    started = time.monotonic()
    while _token_status(client, registered) != 401:
        if time.monotonic() - started > within:
            pytest.fail(f"still accepted after {within} s")
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
def clients_world(store: Store) -> RegisteredClient:
    return register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )


@pytest.mark.redis
def test_a_client_deleted_through_one_node_is_refused_by_another_at_once(
    sqlite_url: str, redis_url: str, redis_prefix: str, clients_world: RegisteredClient
) -> None:
    (_, store_a), (app_b, _) = _node(sqlite_url, redis_url, redis_prefix), _node(sqlite_url, redis_url, redis_prefix)
    b = app_b.test_client()
    assert _token_status(b, clients_world) == 200  # node B has the client cached now (for 5 s)
    store_a.clients.delete(clients_world.client_id)
    assert _eventually_refused(b, clients_world, within=1) < 1


@pytest.mark.redis
def test_a_secret_rotated_by_the_cli_stops_working_on_every_node_at_once(
    sqlite_url: str,
    redis_url: str,
    redis_prefix: str,
    clients_world: RegisteredClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_b, _ = _node(sqlite_url, redis_url, redis_prefix)
    b = app_b.test_client()
    assert _token_status(b, clients_world) == 200
    monkeypatch.chdir(tmp_path)
    env = {"TESSERA_DATABASE_URL": sqlite_url, "TESSERA_REDIS_URL": redis_url, "TESSERA_REDIS_PREFIX": redis_prefix}
    result = CliRunner().invoke(main, ["clients", "rotate-secret", clients_world.client_id], env=env)
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert _eventually_refused(b, clients_world, within=1) < 1


def test_without_redis_another_node_sees_the_change_within_the_cache_bound(
    sqlite_url: str, clients_world: RegisteredClient
) -> None:
    (_, store_a), (app_b, _) = _node(sqlite_url, None, "tessera"), _node(sqlite_url, None, "tessera")
    b = app_b.test_client()
    assert _token_status(b, clients_world) == 200
    store_a.clients.delete(clients_world.client_id)
    # the cached copy still authenticates (the documented 5 s bound) ...
    assert _token_status(b, clients_world) == 200
    # ... until it expires
    server_of(app_b).context.clients.forget(None)
    assert _token_status(b, clients_world) == 401


def test_the_process_that_makes_a_change_forgets_its_own_copy_at_once(
    app: Flask, store: Store, clients_world: RegisteredClient
) -> None:
    client = app.test_client()
    assert _token_status(client, clients_world) == 200
    store.clients.delete(clients_world.client_id)
    assert _token_status(client, clients_world) == 401


def test_a_change_kind_must_be_declared() -> None:
    from tessera.server.changes import Changes

    changes = Changes()
    with pytest.raises(ValueError, match="CHANGE_KINDS"):
        changes.on("scope", lambda _: None)
    heard: list[str | None] = []
    changes.on("key", heard.append)
    changes("key", "k1")
    changes.forget_everything()
    assert heard == ["k1", None]
