"""Client authentication at every endpoint (RFC 6749 §2.3, §3.2.1), as the contract states it.

Confidential clients authenticate with ``client_secret_basic`` or ``client_secret_post`` and never with
``none``; public clients only with ``none``, and only where a public client has any business.
"""

from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.store import Store
from tessera.tokens import TokenKind, mint
from tests.conftest import (
    INTROSPECT,
    REDIRECT_URI,
    REVOKE,
    TOKEN,
    RegisteredClient,
    get_code,
    pkce_pair,
    register_client,
)
from tests.server.conftest import SECRET_METHODS, assert_invalid_client, basic, is_active, post_as, refresh, user_tokens

# -- the two secret methods work everywhere for a confidential client


@pytest.mark.parametrize("method", SECRET_METHODS)
def test_confidential_client_authenticates_at_every_endpoint(
    client: FlaskClient,
    web_client: RegisteredClient,
    machine: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    method: str,
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    issued = post_as(client, TOKEN, web_client, method, data)
    assert issued.status_code == 200, issued.get_json()

    refresh = {"grant_type": "refresh_token", "refresh_token": issued.json["refresh_token"]}
    refreshed = post_as(client, TOKEN, web_client, method, refresh)
    assert refreshed.status_code == 200, refreshed.get_json()
    access = refreshed.json["access_token"]

    machine_token = post_as(client, TOKEN, machine, method, {"grant_type": "client_credentials"})
    assert machine_token.status_code == 200, machine_token.get_json()

    own = post_as(client, INTROSPECT, web_client, method, {"token": access})
    assert own.status_code == 200 and own.json["active"] is True

    revoked = post_as(client, REVOKE, web_client, method, {"token": access})
    assert revoked.status_code == 200
    assert not is_active(client, service, access)


# -- a confidential client never authenticates with "none"


@pytest.mark.parametrize("secret", [None, ""], ids=["no-secret", "empty-secret"])
def test_confidential_client_cannot_use_none_at_the_token_endpoint(
    client: FlaskClient,
    web_client: RegisteredClient,
    machine: RegisteredClient,
    user: Any,
    secret: str | None,
) -> None:
    extra = {} if secret is None else {"client_secret": secret}
    verifier, challenge = pkce_pair()
    code = get_code(client, web_client, challenge)
    code_grant = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    response = client.post(TOKEN, data={**code_grant, "client_id": web_client.client_id, **extra})
    assert_invalid_client(response, statuses=(400, 401))
    # the refused attempt did not spend the code
    tokens = post_as(client, TOKEN, web_client, "client_secret_basic", code_grant)
    assert tokens.status_code == 200, tokens.get_json()

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens.json["refresh_token"]}
    response = client.post(TOKEN, data={**refresh, "client_id": web_client.client_id, **extra})
    assert_invalid_client(response, statuses=(400, 401))
    assert post_as(client, TOKEN, web_client, "client_secret_basic", refresh).status_code == 200

    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": machine.client_id, **extra})
    assert_invalid_client(response, statuses=(400, 401))


@pytest.mark.parametrize("secret", [None, ""], ids=["no-secret", "empty-secret"])
@pytest.mark.parametrize("endpoint", [INTROSPECT, REVOKE])
def test_confidential_client_cannot_use_none_at_introspection_or_revocation(
    client: FlaskClient,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    endpoint: str,
    secret: str | None,
) -> None:
    access = user_tokens(client, web_client)["access_token"]
    extra = {} if secret is None else {"client_secret": secret}
    for auth_client in (web_client, service):
        response = client.post(endpoint, data={"token": access, "client_id": auth_client.client_id, **extra})
        assert_invalid_client(response)
    # Basic with the client_id and an empty password is no authentication either
    response = client.post(endpoint, data={"token": access}, headers=basic(web_client.client_id, ""))
    assert_invalid_client(response)
    assert is_active(client, service, access)


# -- public clients: "none" where it belongs, and nowhere else


def test_public_client_uses_none_for_code_refresh_and_revocation(
    client: FlaskClient, spa: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    tokens = user_tokens(client, spa)  # exchange() authenticates a public client with its client_id only
    refreshed = refresh(client, spa, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    access = refreshed.json["access_token"]
    assert is_active(client, service, access)

    response = post_as(client, REVOKE, spa, "none", {"token": access})
    assert response.status_code == 200, response.get_json()
    assert not is_active(client, service, access)


@pytest.mark.parametrize("registered_for_it", [False, True])
def test_public_client_cannot_use_client_credentials(
    client: FlaskClient, store: Store, registered_for_it: bool
) -> None:
    grants = ("authorization_code", "refresh_token") + (("client_credentials",) if registered_for_it else ())
    public = register_client(store, public=True, grant_types=grants)
    response = post_as(client, TOKEN, public, "none", {"grant_type": "client_credentials"})
    assert response.status_code in (400, 401), response.get_json()
    assert response.json["error"] in ("invalid_client", "unauthorized_client")
    assert "access_token" not in response.json


def test_public_client_cannot_introspect(
    client: FlaskClient, spa: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    access = user_tokens(client, spa)["access_token"]
    assert_invalid_client(post_as(client, INTROSPECT, spa, "none", {"token": access}))
    assert is_active(client, service, access)


#: the ways a public client may claim credentials it does not have, with and without its client_id in the body
CLAIMS = ["basic", "basic-empty-secret", "basic-without-client-id", "post", "another-scheme"]


def _claim(spa: RegisteredClient, claim: str) -> tuple[dict[str, str], dict[str, str]]:
    """(body fields, headers) of a request from ``spa`` that claims credentials in the way ``claim`` names."""
    forged = mint(TokenKind.CLIENT_SECRET)
    body = {"client_id": spa.client_id}
    if claim == "basic":
        return body, basic(spa.client_id, forged)
    if claim == "basic-empty-secret":
        return body, basic(spa.client_id, "")
    if claim == "basic-without-client-id":
        return {}, basic(spa.client_id, forged)
    if claim == "post":
        return {**body, "client_secret": forged}, {}
    assert claim == "another-scheme"
    return body, {"Authorization": f"Bearer {forged}"}


@pytest.mark.parametrize("claim", CLAIMS)
def test_a_public_client_that_sends_credentials_is_judged_by_them(
    client: FlaskClient, spa: RegisteredClient, service: RegisteredClient, user: Any, claim: str
) -> None:
    """Credentials that fail are a failed authentication, never a fallback to ``none``: at the token endpoint
    (code and refresh), introspection and revocation. What the refused requests carried is left unspent."""
    body, headers = _claim(spa, claim)
    verifier, challenge = pkce_pair()
    redeem = {
        "grant_type": "authorization_code",
        "code": get_code(client, spa, challenge),
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    assert_invalid_client(client.post(TOKEN, data={**redeem, **body}, headers=headers))
    tokens = post_as(client, TOKEN, spa, "none", redeem)
    assert tokens.status_code == 200, tokens.get_json()

    rotate = {"grant_type": "refresh_token", "refresh_token": tokens.json["refresh_token"]}
    assert_invalid_client(client.post(TOKEN, data={**rotate, **body}, headers=headers))
    refreshed = post_as(client, TOKEN, spa, "none", rotate)
    assert refreshed.status_code == 200, refreshed.get_json()

    access = refreshed.json["access_token"]
    for endpoint in (INTROSPECT, REVOKE):
        assert_invalid_client(client.post(endpoint, data={"token": access, **body}, headers=headers))
    assert is_active(client, service, access)


# -- wrong secrets, other clients' secrets, two methods at once


def _endpoint_body(endpoint: str) -> dict[str, str]:
    if endpoint == TOKEN:
        return {"grant_type": "client_credentials"}
    return {"token": mint(TokenKind.ACCESS)}


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_wrong_secret_is_401_invalid_client(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    wrong = mint(TokenKind.CLIENT_SECRET)
    response = client.post(endpoint, data=_endpoint_body(endpoint), headers=basic(service.client_id, wrong))
    assert_invalid_client(response)
    assert response.headers["WWW-Authenticate"].lower().startswith("basic"), response.headers

    body = {**_endpoint_body(endpoint), "client_id": service.client_id, "client_secret": wrong}
    assert_invalid_client(client.post(endpoint, data=body))

    unknown = client.post(endpoint, data=_endpoint_body(endpoint), headers=basic("no-such-client", wrong))
    assert_invalid_client(unknown)
    assert "WWW-Authenticate" in unknown.headers


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
@pytest.mark.parametrize("method", SECRET_METHODS)
def test_another_clients_secret_fails(
    client: FlaskClient, service: RegisteredClient, machine: RegisteredClient, endpoint: str, method: str
) -> None:
    assert machine.secret is not None
    borrowed = RegisteredClient(service.client_id, machine.secret, service.record)
    assert_invalid_client(post_as(client, endpoint, borrowed, method, _endpoint_body(endpoint)))


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_two_methods_at_once_are_refused(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    assert service.secret is not None
    body = {**_endpoint_body(endpoint), "client_id": service.client_id, "client_secret": service.secret}
    response = client.post(endpoint, data=body, headers=service.basic)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
