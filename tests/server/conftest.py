"""What the tests of the machine endpoints share: clients of each kind, and requests made as one of them."""

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tests.conftest import INTROSPECT, TOKEN, RegisteredClient, exchange, get_code, pkce_pair, register_client

#: what RFC 7662 §2.2 lets an active answer carry besides the members the contract requires
OPTIONAL_MEMBERS = {"iss", "aud", "nbf", "jti"}
REQUIRED_MEMBERS = {"active", "scope", "client_id", "token_type", "exp", "iat", "sub"}
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


def auth_fields(registered: RegisteredClient, method: str) -> tuple[dict[str, str], dict[str, str]]:
    """(body fields, headers) that authenticate ``registered`` with ``method``."""
    if method == "client_secret_basic":
        return {}, registered.basic
    if method == "client_secret_post":
        assert registered.secret is not None
        return {"client_id": registered.client_id, "client_secret": registered.secret}, {}
    assert method == "none"
    return {"client_id": registered.client_id}, {}


def post_as(
    client: FlaskClient, path: str, registered: RegisteredClient, method: str, data: dict[str, str]
) -> TestResponse:
    body, headers = auth_fields(registered, method)
    return client.post(path, data={**data, **body}, headers=headers)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def user_tokens(client: FlaskClient, registered: RegisteredClient) -> dict[str, Any]:
    """Sign alice in, consent, and redeem the code: the token response."""
    verifier, challenge = pkce_pair()
    code = get_code(client, registered, challenge)
    response = exchange(client, registered, code, verifier)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def client_token(client: FlaskClient, registered: RegisteredClient) -> str:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=registered.basic)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def refresh(client: FlaskClient, registered: RegisteredClient, refresh_token: str) -> TestResponse:
    method = "client_secret_basic" if registered.secret else "none"
    return post_as(client, TOKEN, registered, method, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def introspect(client: FlaskClient, service: RegisteredClient, token: str) -> dict[str, Any]:
    response = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def is_active(client: FlaskClient, service: RegisteredClient, token: str) -> bool:
    return introspect(client, service, token)["active"] is True


def assert_invalid_client(response: TestResponse, *, statuses: tuple[int, ...] = (401,)) -> None:
    assert response.status_code in statuses, (response.status_code, response.get_json())
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def machine(store: Store) -> RegisteredClient:
    """A confidential client_credentials client that may NOT introspect other clients' tokens."""
    return register_client(store, name="Machine", redirect_uris=(), grant_types=("client_credentials",), scope="api")


@pytest.fixture
def spa(store: Store) -> RegisteredClient:
    """A public client (no secret, PKCE)."""
    return register_client(store, name="Single-page app", public=True)


SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
