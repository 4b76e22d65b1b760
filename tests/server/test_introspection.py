"""The introspection endpoint (RFC 7662): who may introspect what, and exactly what the answer says."""

import base64
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.tokens import TokenKind, mint
from tests.conftest import (
    INTROSPECT,
    REVOKE,
    RegisteredClient,
)
from tests.server.conftest import (
    OPTIONAL_MEMBERS,
    REQUIRED_MEMBERS,
    assert_invalid_client,
    client_token,
    introspect,
    post_as,
    user_tokens,
)


def test_introspection_of_a_user_token(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    before = int(time.time())
    tokens = user_tokens(client, web_client)
    for caller in (service, web_client):  # the resource server, and the token's own client
        answer = introspect(client, caller, tokens["access_token"])
        assert REQUIRED_MEMBERS | {"username"} <= answer.keys() <= REQUIRED_MEMBERS | {"username"} | OPTIONAL_MEMBERS
        assert answer["active"] is True
        assert answer["scope"] == tokens["scope"] == "api restricted"
        assert answer["client_id"] == web_client.client_id
        assert answer["token_type"].lower() == "bearer"
        assert answer["username"] == "alice"
        assert isinstance(answer["sub"], str) and answer["sub"] and answer["sub"] != web_client.client_id
        assert before <= answer["iat"] <= int(time.time())
        assert answer["exp"] - answer["iat"] == tokens["expires_in"]


def test_introspection_of_a_client_credentials_token(
    client: FlaskClient, machine: RegisteredClient, service: RegisteredClient
) -> None:
    access = client_token(client, machine)
    answer = introspect(client, service, access)
    assert REQUIRED_MEMBERS <= answer.keys() <= REQUIRED_MEMBERS | OPTIONAL_MEMBERS
    assert "username" not in answer
    assert answer["sub"] == answer["client_id"] == machine.client_id
    assert answer["scope"] == "api"


def test_a_client_without_introspect_sees_only_its_own_tokens(
    client: FlaskClient,
    web_client: RegisteredClient,
    machine: RegisteredClient,
    service: RegisteredClient,
    user: Any,
) -> None:
    user_access = user_tokens(client, web_client)["access_token"]
    machine_access = client_token(client, machine)
    service_access = client_token(client, service)

    assert introspect(client, machine, machine_access)["active"] is True
    assert introspect(client, machine, user_access) == {"active": False}
    assert introspect(client, machine, service_access) == {"active": False}
    assert introspect(client, web_client, machine_access) == {"active": False}
    # the resource server sees them all
    for token in (user_access, machine_access, service_access):
        assert introspect(client, service, token)["active"] is True


def test_introspection_of_anything_else_is_inactive(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    tokens = user_tokens(client, web_client)
    access = tokens["access_token"]
    broken_checksum = access[:-1] + ("A" if access[-1] != "A" else "B")
    assert service.secret is not None
    for token in (
        "",
        " ",
        "garbage",
        mint(TokenKind.ACCESS),  # well formed, never issued
        broken_checksum,
        access.upper(),
        access + " ",
        tokens["refresh_token"],  # refresh tokens are not introspectable
        mint(TokenKind.CODE),
        service.secret,
        "tsr_at_",
    ):
        response = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
        assert response.status_code == 200, token
        assert response.get_json() == {"active": False}, token
        assert response.headers["Cache-Control"] == "no-store"


def test_introspection_of_revoked_and_expired_tokens_is_inactive(
    client: FlaskClient,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    revoked = user_tokens(client, web_client)["access_token"]
    assert post_as(client, REVOKE, web_client, "client_secret_basic", {"token": revoked}).status_code == 200
    assert introspect(client, service, revoked) == {"active": False}

    expiring = client_token(client, service)
    assert introspect(client, service, expiring)["active"] is True
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert introspect(client, service, expiring) == {"active": False}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer whatever"},
        {"Authorization": "Basic " + base64.b64encode(b"nobody:nothing").decode()},
    ],
    ids=["none", "bearer", "unknown-client"],
)
def test_introspection_without_valid_credentials_is_401(
    client: FlaskClient, service: RegisteredClient, headers: dict[str, str]
) -> None:
    access = client_token(client, service)
    response = client.post(INTROSPECT, data={"token": access}, headers=headers)
    assert_invalid_client(response)
    assert "active" not in response.get_json()
