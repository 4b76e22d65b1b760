"""One-time use holds under concurrency: 16 threads race on one code, on one refresh token and on one approved
device code, on SQLite and on PostgreSQL. Exactly one wins; the others get invalid_grant, never a 500."""

import threading
from collections import Counter
from typing import Any

import pytest
from flask import Flask

from tessera.app import create_app
from tessera.passwords import hash_password
from tessera.store import Store
from tests.conftest import (
    INTROSPECT,
    REDIRECT_URI,
    TOKEN,
    exchange,
    get_code,
    pkce_pair,
    register_client,
    settings_for,
)
from tests.device import DEVICE_GRANT, answer, device_client, start

RACERS = 16


@pytest.fixture
def race_app(database_url: str, db_store: Store) -> Any:
    db_store.users.create("alice", hash_password("correct horse"))
    return create_app(settings_for(database_url), store=db_store), db_store


def _race(app: Flask, data: dict[str, str], headers: dict[str, str]) -> list[Any]:
    barrier = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def run(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[i] = client.post(TOKEN, data=data, headers=headers)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _outcomes(results: list[Any]) -> Counter[tuple[int, str]]:
    return Counter((r.status_code, r.json.get("error", "ok")) for r in results)


def test_sixteen_threads_redeem_one_code(race_app: Any) -> None:
    app, store = race_app
    web = register_client(store)
    client = app.test_client()
    verifier, challenge = pkce_pair()
    code = get_code(client, web, challenge)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    results = _race(app, data, web.basic)
    assert _outcomes(results) == Counter({(200, "ok"): 1, (400, "invalid_grant"): RACERS - 1})
    # the losers replayed the code, so what it produced is revoked
    service = register_client(
        store, name="RS", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    winner = next(r for r in results if r.status_code == 200).json
    assert client.post(INTROSPECT, data={"token": winner["access_token"]}, headers=service.basic).json == {
        "active": False
    }


def test_sixteen_threads_rotate_one_refresh_token(race_app: Any) -> None:
    app, store = race_app
    web = register_client(store)
    client = app.test_client()
    verifier, challenge = pkce_pair()
    first = exchange(client, web, get_code(client, web, challenge), verifier).json
    results = _race(app, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, web.basic)
    assert _outcomes(results) == Counter({(200, "ok"): 1, (400, "invalid_grant"): RACERS - 1})
    winner = next(r for r in results if r.status_code == 200).json
    # reuse by the losers revoked the family, the winner's new pair included
    again = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]}, headers=web.basic
    )
    assert again.json["error"] == "invalid_grant"


def test_sixteen_pollers_on_one_approved_device_code_get_one_token(race_app: Any) -> None:
    """RFC 8628 §3.5: once approved, one token response; every other poll, however close, is invalid_grant."""
    app, store = race_app
    tv = device_client(store)
    client = app.test_client()
    body = start(client, tv)
    answer(app.test_client(), body["user_code"])
    data = {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": tv.client_id}
    results = _race(app, data, {})
    assert _outcomes(results) == Counter({(200, "ok"): 1, (400, "invalid_grant"): RACERS - 1})
    winner = next(r for r in results if r.status_code == 200).json
    service = register_client(
        store, name="RS", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    assert client.post(INTROSPECT, data={"token": winner["access_token"]}, headers=service.basic).json["active"]
    assert len(store.tokens.revoke_for_client(tv.client_id)) == 1  # exactly one token was stored
