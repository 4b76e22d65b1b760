"""Per-client limits at the token and introspection endpoints: HTTP 429 ``slow_down`` with ``Retry-After``,
counted only for a client that authenticated, and off unless configured."""

from flask import Flask
from flask.testing import FlaskClient

from tessera.store import Store
from tests.conftest import INTROSPECT, TOKEN, RegisteredClient, app_for, register_client

CC = {"grant_type": "client_credentials"}


def _app(store: Store, sqlite_url: str, **env: str) -> Flask:
    return app_for(store, sqlite_url, **env)


def _other_service(store: Store) -> RegisteredClient:
    return register_client(store, name="Other", redirect_uris=(), grant_types=("client_credentials",), scope="api")


def test_token_requests_over_the_limit_are_429_slow_down(store: Store, sqlite_url: str, service) -> None:
    client = _app(store, sqlite_url, TESSERA_TOKEN_LIMIT="3/minute").test_client()
    assert [client.post(TOKEN, data=CC, headers=service.basic).status_code for _ in range(3)] == [200] * 3
    refused = client.post(TOKEN, data=CC, headers=service.basic)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "slow_down"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"
    # every other client has its own budget
    other = _other_service(store)
    assert client.post(TOKEN, data=CC, headers=other.basic).status_code == 200


def test_nobody_can_spend_another_clients_budget(store: Store, sqlite_url: str, service) -> None:
    client = _app(store, sqlite_url, TESSERA_TOKEN_LIMIT="2/minute").test_client()
    wrong = {**CC, "client_id": service.client_id, "client_secret": "tsr_cs_not-the-secret"}
    for _ in range(10):
        assert client.post(TOKEN, data=wrong).status_code == 401
    assert client.post(TOKEN, data=CC, headers=service.basic).status_code == 200


def test_introspection_over_the_limit_is_429(store: Store, sqlite_url: str, service) -> None:
    client = _app(store, sqlite_url, TESSERA_INTROSPECTION_LIMIT="2/minute").test_client()
    token = client.post(TOKEN, data=CC, headers=service.basic).get_json()["access_token"]
    for _ in range(2):
        answer = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
        assert answer.status_code == 200 and answer.get_json()["active"] is True
    refused = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "slow_down"
    assert "Retry-After" in refused.headers
    # the token endpoint has its own limit (here: none)
    assert client.post(TOKEN, data=CC, headers=service.basic).status_code == 200


def test_per_client_limits_are_off_by_default(client: FlaskClient, service) -> None:
    token = client.post(TOKEN, data=CC, headers=service.basic).get_json()["access_token"]
    for _ in range(200):
        assert client.post(INTROSPECT, data={"token": token}, headers=service.basic).status_code == 200
    for _ in range(50):
        assert client.post(TOKEN, data=CC, headers=service.basic).status_code == 200
