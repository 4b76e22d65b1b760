"""The database goes away while requests are in flight and comes back: Tessera answers 503
``temporarily_unavailable`` meanwhile, never a 500, recovers by itself, and loses no token it answered 200 for.

PostgreSQL is "stopped" for Tessera alone by a TCP proxy in front of the machine's server (see
``tests/tcp_proxy.py``); the tests work in the session's throwaway database.
"""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from tessera.app import build
from tessera.passwords import hash_password
from tessera.store import Store, make_engine, upgrade
from tests.conftest import (
    INTROSPECT,
    TOKEN,
    RegisteredClient,
    csrf_from,
    exchange,
    get_code,
    pkce_pair,
    register_client,
    reset_postgres,
    settings_for,
)
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


class Proxied:
    """An app whose database connections go through a proxy, and a store that goes straight to the database."""

    def __init__(self, app: Flask, engine: Engine, store: Store, proxy: TcpProxy) -> None:
        self.app = app
        self.store = store
        self.proxy = proxy
        self.engine = engine


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[Proxied]:
    reset_postgres(postgres_url)
    direct = make_engine(postgres_url)
    upgrade(direct)
    port = make_url(postgres_url).port or 5432
    with TcpProxy(port) as proxy:
        url = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
        built = build(settings_for(url))
        built.flask.config["TESTING"] = True
        yield Proxied(built.flask, built.store.engine, Store(direct), proxy)
        built.store.close()
    direct.dispose()


def _service(store: Store) -> RegisteredClient:
    return register_client(
        store, name="Service", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Retry-After"] == "1"


def test_outage_during_traffic_is_503_then_recovers_and_keeps_every_issued_token(proxied: Proxied) -> None:
    service = _service(proxied.store)
    issued: list[str] = []
    statuses: list[tuple[str, int]] = []  # (phase, status)
    bad: list[str] = []
    phase = ["before"]
    stop = threading.Event()
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = proxied.app.test_client()
        mine: list[str] = []
        while not stop.is_set():
            if n % 3 == 2 and mine:  # some workers read while others write
                response = client.post(INTROSPECT, data={"token": mine[-1]}, headers=service.basic)
            else:
                response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
            with lock:
                statuses.append((phase[0], response.status_code))
            if response.status_code == 200:
                body = response.get_json()
                if "access_token" in body:
                    mine.append(body["access_token"])
                elif body.get("active") is not True:
                    bad.append(f"a token answered with 200 introspects inactive: {body}")
            elif response.status_code == 503:
                try:
                    _assert_unavailable(response)
                except AssertionError as exc:
                    bad.append(str(exc))
            else:
                bad.append(f"{response.status_code} {response.get_data(as_text=True)[:200]}")
        with lock:
            issued.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.8)
    phase[0] = "outage"
    proxied.proxy.cut()  # connections in use are reset mid-statement; new ones are refused
    time.sleep(1.0)
    phase[0] = "after"
    proxied.proxy.restore()
    time.sleep(1.2)
    stop.set()
    for t in threads:
        t.join(timeout=30)

    assert not bad, bad[:5]
    by_phase = {p: [s for q, s in statuses if q == p] for p in ("before", "outage", "after")}
    assert by_phase["before"] and set(by_phase["before"]) == {200}
    assert 503 in by_phase["outage"], "the outage was not noticed"
    # recovered by itself: the last requests of the run all succeeded
    assert by_phase["after"][-20:] == [200] * 20, by_phase["after"][-20:]
    assert len(issued) > 20

    client = proxied.app.test_client()
    for token in issued:
        response = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
        assert response.status_code == 200
        assert response.get_json()["active"] is True, "a token answered with 200 was lost"


def test_requests_while_the_database_is_down_are_503_on_every_endpoint(proxied: Proxied) -> None:
    service = _service(proxied.store)
    client = proxied.app.test_client()
    token = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).get_json()
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    proxied.proxy.cut()

    _assert_unavailable(client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic))
    _assert_unavailable(client.post(INTROSPECT, data={"token": token["access_token"]}, headers=service.basic))
    _assert_unavailable(client.post("/oauth/revoke", data={"token": token["access_token"]}, headers=service.basic))
    _assert_unavailable(client.get("/.well-known/oauth-authorization-server"))
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    login = client.post("/login", data={"username": "alice", "password": "x", "csrf_token": csrf})
    assert login.status_code == 503
    assert "Temporarily unavailable" in login.get_data(as_text=True)
    authorize = client.get("/authorize?response_type=code&client_id=abc")
    assert authorize.status_code == 503

    proxied.proxy.restore()
    response = client.post(INTROSPECT, data={"token": token["access_token"]}, headers=service.basic)
    assert response.status_code == 200 and response.get_json()["active"] is True


def test_first_request_after_a_restart_with_only_idle_connections_succeeds(proxied: Proxied) -> None:
    """Before the checkout check in ``make_engine`` this first request failed with 503 on a dead pooled
    connection, although the database was already back."""
    service = _service(proxied.store)
    client = proxied.app.test_client()
    for _ in range(3):
        assert client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).status_code == 200
    pool = proxied.engine.pool
    assert isinstance(pool, QueuePool) and pool.checkedin() >= 1  # idle connections wait in the pool

    proxied.proxy.cut()
    proxied.proxy.restore()  # no request came while it was down, so nothing invalidated the pool

    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code == 200, response.get_data(as_text=True)


def _cut_before(proxied: Proxied, table: str, verb: str) -> None:
    """Reset the database connection just before the first ``verb`` on ``table``: a failure mid-transaction."""
    fired = threading.Event()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not fired.is_set() and statement.lstrip().upper().startswith(verb) and table in statement:
            fired.set()
            proxied.proxy.cut()
            time.sleep(0.05)  # let the reset reach the client socket

    event.listen(proxied.engine, "before_cursor_execute", on_execute)


def test_code_redemption_cut_mid_transaction_is_503_and_rolled_back(proxied: Proxied) -> None:
    web = register_client(proxied.store)
    proxied.store.users.create("alice", hash_password("correct horse"))
    client: FlaskClient = proxied.app.test_client()
    verifier, challenge = pkce_pair()
    code = get_code(client, web, challenge)

    # the code is marked used by an UPDATE, then the token INSERT fails: all or nothing
    _cut_before(proxied, "tokens", "INSERT")
    _assert_unavailable(exchange(client, web, code, verifier))
    proxied.proxy.restore()

    response = exchange(client, web, code, verifier)
    assert response.status_code == 200, "the code stayed spent although no token was issued"
    assert response.get_json()["access_token"].startswith("tsr_at_")


def test_refresh_rotation_cut_mid_transaction_is_503_and_the_old_pair_still_works(proxied: Proxied) -> None:
    web = register_client(proxied.store)
    service = _service(proxied.store)
    proxied.store.users.create("alice", hash_password("correct horse"))
    client: FlaskClient = proxied.app.test_client()
    verifier, challenge = pkce_pair()
    first = exchange(client, web, get_code(client, web, challenge), verifier).get_json()

    _cut_before(proxied, "tokens", "INSERT")
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    _assert_unavailable(client.post(TOKEN, data=refresh, headers=web.basic))
    proxied.proxy.restore()

    active = client.post(INTROSPECT, data={"token": first["access_token"]}, headers=service.basic).get_json()
    assert active["active"] is True, "the access token answered with 200 was lost"
    second = client.post(TOKEN, data=refresh, headers=web.basic)
    assert second.status_code == 200, "a rotation that failed half-way spent the refresh token"
