"""The revocation endpoint (RFC 7009): a client revokes its own tokens, the whole family with either, and
nobody else's."""

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.store import Store
from tessera.tokens import TokenKind, mint
from tests.conftest import (
    REVOKE,
    RegisteredClient,
    register_client,
)
from tests.server.conftest import assert_invalid_client, basic, is_active, post_as, refresh, user_tokens


def test_revocation_answers_200_for_own_and_unknown_tokens(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    access = user_tokens(client, web_client)["access_token"]
    for token in (mint(TokenKind.ACCESS), mint(TokenKind.REFRESH), "garbage", ""):
        response = post_as(client, REVOKE, web_client, "client_secret_basic", {"token": token})
        assert response.status_code == 200, (token, response.get_json())
    assert is_active(client, service, access)  # revoking unknown tokens touched nothing
    response = post_as(client, REVOKE, web_client, "client_secret_post", {"token": access})
    assert response.status_code == 200
    assert not is_active(client, service, access)
    # revoking it again is still fine
    assert post_as(client, REVOKE, web_client, "client_secret_basic", {"token": access}).status_code == 200


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_another_clients_token_is_never_revoked(
    client: FlaskClient,
    store: Store,
    web_client: RegisteredClient,
    machine: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    which: str,
) -> None:
    tokens = user_tokens(client, web_client)
    other_web = register_client(store, name="Other web app")
    for intruder in (machine, service, other_web):  # even the resource server may not revoke
        response = post_as(client, REVOKE, intruder, "client_secret_basic", {"token": tokens[which]})
        assert response.status_code == 200 or response.get_json()["error"] in ("invalid_grant", "invalid_request")
    assert is_active(client, service, tokens["access_token"])
    refreshed = refresh(client, web_client, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_revoking_either_token_revokes_both(
    client: FlaskClient,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    which: str,
    hint: str | None,
) -> None:
    """A wrong ``token_type_hint`` must not stop the revocation (RFC 7009 §2.1)."""
    tokens = user_tokens(client, web_client)
    data = {"token": tokens[which], **({"token_type_hint": hint} if hint else {})}
    assert post_as(client, REVOKE, web_client, "client_secret_basic", data).status_code == 200
    assert not is_active(client, service, tokens["access_token"])
    response = refresh(client, web_client, tokens["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize("which", ["first access", "latest access", "latest refresh", "middle access"])
def test_revoking_after_rotation_revokes_the_whole_family(
    client: FlaskClient,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    which: str,
) -> None:
    generations = [user_tokens(client, web_client)]
    for _ in range(2):
        response = refresh(client, web_client, generations[-1]["refresh_token"])
        assert response.status_code == 200, response.get_json()
        generations.append(response.get_json())
    target = {
        "first access": generations[0]["access_token"],
        "middle access": generations[1]["access_token"],
        "latest access": generations[-1]["access_token"],
        "latest refresh": generations[-1]["refresh_token"],
    }[which]
    assert post_as(client, REVOKE, web_client, "client_secret_basic", {"token": target}).status_code == 200
    for generation in generations:
        assert not is_active(client, service, generation["access_token"]), which
    response = refresh(client, web_client, generations[-1]["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic " + base64.b64encode(b"nobody:nothing").decode()}],
    ids=["none", "unknown-client"],
)
def test_revocation_without_valid_credentials_is_401_and_revokes_nothing(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any, headers: dict[str, str]
) -> None:
    access = user_tokens(client, web_client)["access_token"]
    assert_invalid_client(client.post(REVOKE, data={"token": access}, headers=headers))
    wrong = basic(web_client.client_id, mint(TokenKind.CLIENT_SECRET))
    assert_invalid_client(client.post(REVOKE, data={"token": access}, headers=wrong))
    assert is_active(client, service, access)
