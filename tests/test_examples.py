"""The examples in ``examples/`` do what their docstrings and the README say, against the real server (in
process: their introspection goes to the server's WSGI app)."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples import fastapi_api, flask_api
from tessera.resource import IntrospectionSource, ResourceMetadata, TokenCache, TokenValidator
from tessera.store import Store
from tests.conftest import ISSUER, TOKEN, RegisteredClient, register_client
from tests.resource.test_fastapi import ASGIClient


@pytest.fixture
def validator(app: Flask, store: Store) -> Iterator[TokenValidator]:
    api = register_client(store, name="Example API", redirect_uris=(), grant_types=("client_credentials",),
                          scope="api", introspect=True)  # fmt: skip
    assert api.secret is not None
    source = IntrospectionSource(ISSUER, api.client_id, api.secret, transport=httpx.WSGITransport(app=app))
    yield TokenValidator(TokenCache(source, ttl=60), realm="example")
    source.close()


def _token(client: FlaskClient, store: Store, scope: str) -> tuple[str, RegisteredClient]:
    caller = register_client(store, name="Caller", redirect_uris=(), grant_types=("client_credentials",),
                             scope="api billing:read")  # fmt: skip
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": scope}, headers=caller.basic)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["access_token"]), caller


def _check(get: Any, token: str, caller: RegisteredClient) -> None:
    ok = get("/api/data", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == {"message": "Protected API data.", "for": caller.client_id}
    short = get("/api/billing", headers={"Authorization": f"Bearer {token}"})
    assert short.status_code == 403 and 'error="insufficient_scope"' in short.headers["WWW-Authenticate"]
    missing = get("/api/data")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="example"'


def test_the_flask_example(client: FlaskClient, store: Store, validator: TokenValidator) -> None:
    token, caller = _token(client, store, "api")
    api = flask_api.create_app(validator).test_client()

    def get(path: str, headers: dict[str, str] | None = None) -> Any:
        # read as httpx's responses are, so that one check serves both frameworks
        response = api.get(path, headers=headers or {})
        return httpx.Response(response.status_code, headers=list(response.headers.items()), content=response.data)

    _check(get, token, caller)


def test_the_fastapi_example(client: FlaskClient, store: Store, validator: TokenValidator) -> None:
    token, caller = _token(client, store, "api")
    api = ASGIClient(fastapi_api.create_app(validator))
    _check(api.get, token, caller)
    both, _ = _token(client, store, "api billing:read")
    answer = api.get("/api/billing", headers={"Authorization": f"Bearer {both}"})
    assert answer.status_code == 200 and answer.json() == {"message": "Invoices.", "scope": "api billing:read"}


def test_the_examples_build_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_ISSUER", ISSUER)
    monkeypatch.setenv("API_CLIENT_ID", "example")
    monkeypatch.setenv("API_CLIENT_SECRET", "secret")
    monkeypatch.delenv("TESSERA_REDIS_URL", raising=False)
    monkeypatch.delenv("API_RESOURCE", raising=False)
    assert isinstance(flask_api.from_environment(), Flask)
    assert fastapi_api.from_environment().title == "FastAPI"


def test_with_api_resource_the_examples_say_where_tokens_come_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_ISSUER", ISSUER)
    monkeypatch.setenv("API_CLIENT_ID", "example")
    monkeypatch.setenv("API_CLIENT_SECRET", "secret")
    monkeypatch.delenv("TESSERA_REDIS_URL", raising=False)
    monkeypatch.setenv("API_RESOURCE", "http://127.0.0.1:8001/")
    document = {
        "resource": "http://127.0.0.1:8001/",
        "authorization_servers": [ISSUER],
        "scopes_supported": ["api", "billing:read"],
        "bearer_methods_supported": ["header"],
    }
    where = 'resource_metadata="http://127.0.0.1:8001/.well-known/oauth-protected-resource"'
    flask = flask_api.from_environment().test_client()
    assert flask.get("/.well-known/oauth-protected-resource").json == document
    assert (
        flask.get("/api/billing").headers["WWW-Authenticate"]
        == f'Bearer realm="example", scope="api billing:read", {where}'
    )
    fastapi = ASGIClient(fastapi_api.from_environment())
    assert fastapi.get("/.well-known/oauth-protected-resource").json() == document
    assert fastapi.get("/api/data").headers["WWW-Authenticate"] == f'Bearer realm="example", scope="api", {where}'


def test_the_examples_with_metadata_still_let_a_good_token_through(
    client: FlaskClient, store: Store, validator: TokenValidator
) -> None:
    token, caller = _token(client, store, "api")
    metadata = ResourceMetadata("http://127.0.0.1:8001/", [ISSUER], ["api"])
    api = ASGIClient(fastapi_api.create_app(validator, metadata=metadata))
    answer = api.get("/api/data", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["for"] == caller.client_id
    short = api.get("/api/billing", headers={"Authorization": f"Bearer {token}"})
    assert short.status_code == 403 and "resource_metadata=" in short.headers["WWW-Authenticate"]
    flask = flask_api.create_app(validator, metadata).test_client()
    assert flask.get("/api/data", headers={"Authorization": f"Bearer {token}"}).status_code == 200
