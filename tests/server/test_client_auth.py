"""Client authentication at every endpoint (RFC 6749 §2.3, §3.2.1), introspection (RFC 7662) and revocation
(RFC 7009) as the contract states them.

Confidential clients authenticate with ``client_secret_basic`` or ``client_secret_post`` and never with
``none``; public clients only with ``none``, and only where a public client has any business.
"""

import base64
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.store import Store
from tessera.tokens import TokenKind, mint
from tests.conftest import (
    INTROSPECT,
    REDIRECT_URI,
    REVOKE,
    TOKEN,
    RegisteredClient,
    exchange,
    get_code,
    pkce_pair,
    register_client,
)

#: what RFC 7662 §2.2 lets an active answer carry besides the members the contract requires
_OPTIONAL_MEMBERS = {"iss", "aud", "nbf", "jti"}
_REQUIRED_MEMBERS = {"active", "scope", "client_id", "token_type", "exp", "iat", "sub"}


# -- helpers


def _auth(registered: RegisteredClient, method: str) -> tuple[dict[str, str], dict[str, str]]:
    """(body fields, headers) that authenticate ``registered`` with ``method``."""
    if method == "client_secret_basic":
        return {}, registered.basic
    if method == "client_secret_post":
        assert registered.secret is not None
        return {"client_id": registered.client_id, "client_secret": registered.secret}, {}
    assert method == "none"
    return {"client_id": registered.client_id}, {}


def _post(
    client: FlaskClient, path: str, registered: RegisteredClient, method: str, data: dict[str, str]
) -> TestResponse:
    body, headers = _auth(registered, method)
    return client.post(path, data={**data, **body}, headers=headers)


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _user_tokens(client: FlaskClient, registered: RegisteredClient) -> dict[str, Any]:
    """Sign alice in, consent, and redeem the code: the token response."""
    verifier, challenge = pkce_pair()
    code = get_code(client, registered, challenge)
    response = exchange(client, registered, code, verifier)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _client_token(client: FlaskClient, registered: RegisteredClient) -> str:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=registered.basic)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def _refresh(client: FlaskClient, registered: RegisteredClient, refresh_token: str) -> TestResponse:
    method = "client_secret_basic" if registered.secret else "none"
    return _post(client, TOKEN, registered, method, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def _introspect(client: FlaskClient, service: RegisteredClient, token: str) -> dict[str, Any]:
    response = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _is_active(client: FlaskClient, service: RegisteredClient, token: str) -> bool:
    return _introspect(client, service, token)["active"] is True


def _assert_invalid_client(response: TestResponse, *, statuses: tuple[int, ...] = (401,)) -> None:
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
    issued = _post(client, TOKEN, web_client, method, data)
    assert issued.status_code == 200, issued.get_json()

    refresh = {"grant_type": "refresh_token", "refresh_token": issued.json["refresh_token"]}
    refreshed = _post(client, TOKEN, web_client, method, refresh)
    assert refreshed.status_code == 200, refreshed.get_json()
    access = refreshed.json["access_token"]

    machine_token = _post(client, TOKEN, machine, method, {"grant_type": "client_credentials"})
    assert machine_token.status_code == 200, machine_token.get_json()

    own = _post(client, INTROSPECT, web_client, method, {"token": access})
    assert own.status_code == 200 and own.json["active"] is True

    revoked = _post(client, REVOKE, web_client, method, {"token": access})
    assert revoked.status_code == 200
    assert not _is_active(client, service, access)


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
    _assert_invalid_client(response, statuses=(400, 401))
    # the refused attempt did not spend the code
    tokens = _post(client, TOKEN, web_client, "client_secret_basic", code_grant)
    assert tokens.status_code == 200, tokens.get_json()

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens.json["refresh_token"]}
    response = client.post(TOKEN, data={**refresh, "client_id": web_client.client_id, **extra})
    _assert_invalid_client(response, statuses=(400, 401))
    assert _post(client, TOKEN, web_client, "client_secret_basic", refresh).status_code == 200

    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": machine.client_id, **extra})
    _assert_invalid_client(response, statuses=(400, 401))


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
    access = _user_tokens(client, web_client)["access_token"]
    extra = {} if secret is None else {"client_secret": secret}
    for auth_client in (web_client, service):
        response = client.post(endpoint, data={"token": access, "client_id": auth_client.client_id, **extra})
        _assert_invalid_client(response)
    # Basic with the client_id and an empty password is no authentication either
    response = client.post(endpoint, data={"token": access}, headers=_basic(web_client.client_id, ""))
    _assert_invalid_client(response)
    assert _is_active(client, service, access)


# -- public clients: "none" where it belongs, and nowhere else


def test_public_client_uses_none_for_code_refresh_and_revocation(
    client: FlaskClient, spa: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    tokens = _user_tokens(client, spa)  # exchange() authenticates a public client with its client_id only
    refreshed = _refresh(client, spa, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    access = refreshed.json["access_token"]
    assert _is_active(client, service, access)

    response = _post(client, REVOKE, spa, "none", {"token": access})
    assert response.status_code == 200, response.get_json()
    assert not _is_active(client, service, access)


@pytest.mark.parametrize("registered_for_it", [False, True])
def test_public_client_cannot_use_client_credentials(
    client: FlaskClient, store: Store, registered_for_it: bool
) -> None:
    grants = ("authorization_code", "refresh_token") + (("client_credentials",) if registered_for_it else ())
    public = register_client(store, public=True, grant_types=grants)
    response = _post(client, TOKEN, public, "none", {"grant_type": "client_credentials"})
    assert response.status_code in (400, 401), response.get_json()
    assert response.json["error"] in ("invalid_client", "unauthorized_client")
    assert "access_token" not in response.json


def test_public_client_cannot_introspect(
    client: FlaskClient, spa: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    access = _user_tokens(client, spa)["access_token"]
    _assert_invalid_client(_post(client, INTROSPECT, spa, "none", {"token": access}))
    assert _is_active(client, service, access)


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_public_client_with_a_made_up_secret_is_refused(
    client: FlaskClient, spa: RegisteredClient, endpoint: str
) -> None:
    data = {"grant_type": "refresh_token", "refresh_token": mint(TokenKind.REFRESH), "token": mint(TokenKind.ACCESS)}
    forged = mint(TokenKind.CLIENT_SECRET)
    response = client.post(endpoint, data={**data, "client_id": spa.client_id, "client_secret": forged})
    _assert_invalid_client(response, statuses=(400, 401))
    response = client.post(endpoint, data=data, headers=_basic(spa.client_id, forged))
    _assert_invalid_client(response)


# -- wrong secrets, other clients' secrets, two methods at once


def _endpoint_body(endpoint: str) -> dict[str, str]:
    if endpoint == TOKEN:
        return {"grant_type": "client_credentials"}
    return {"token": mint(TokenKind.ACCESS)}


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_wrong_secret_is_401_invalid_client(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    wrong = mint(TokenKind.CLIENT_SECRET)
    response = client.post(endpoint, data=_endpoint_body(endpoint), headers=_basic(service.client_id, wrong))
    _assert_invalid_client(response)
    assert response.headers["WWW-Authenticate"].lower().startswith("basic"), response.headers

    body = {**_endpoint_body(endpoint), "client_id": service.client_id, "client_secret": wrong}
    _assert_invalid_client(client.post(endpoint, data=body))

    unknown = client.post(endpoint, data=_endpoint_body(endpoint), headers=_basic("no-such-client", wrong))
    _assert_invalid_client(unknown)
    assert "WWW-Authenticate" in unknown.headers


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
@pytest.mark.parametrize("method", SECRET_METHODS)
def test_another_clients_secret_fails(
    client: FlaskClient, service: RegisteredClient, machine: RegisteredClient, endpoint: str, method: str
) -> None:
    assert machine.secret is not None
    borrowed = RegisteredClient(service.client_id, machine.secret, service.record)
    _assert_invalid_client(_post(client, endpoint, borrowed, method, _endpoint_body(endpoint)))


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_two_methods_at_once_are_refused(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    assert service.secret is not None
    body = {**_endpoint_body(endpoint), "client_id": service.client_id, "client_secret": service.secret}
    response = client.post(endpoint, data=body, headers=service.basic)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


# -- introspection


def test_introspection_of_a_user_token(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    before = int(time.time())
    tokens = _user_tokens(client, web_client)
    for caller in (service, web_client):  # the resource server, and the token's own client
        answer = _introspect(client, caller, tokens["access_token"])
        assert _REQUIRED_MEMBERS | {"username"} <= answer.keys() <= _REQUIRED_MEMBERS | {"username"} | _OPTIONAL_MEMBERS
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
    access = _client_token(client, machine)
    answer = _introspect(client, service, access)
    assert _REQUIRED_MEMBERS <= answer.keys() <= _REQUIRED_MEMBERS | _OPTIONAL_MEMBERS
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
    user_access = _user_tokens(client, web_client)["access_token"]
    machine_access = _client_token(client, machine)
    service_access = _client_token(client, service)

    assert _introspect(client, machine, machine_access)["active"] is True
    assert _introspect(client, machine, user_access) == {"active": False}
    assert _introspect(client, machine, service_access) == {"active": False}
    assert _introspect(client, web_client, machine_access) == {"active": False}
    # the resource server sees them all
    for token in (user_access, machine_access, service_access):
        assert _introspect(client, service, token)["active"] is True


def test_introspection_of_anything_else_is_inactive(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    tokens = _user_tokens(client, web_client)
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
    revoked = _user_tokens(client, web_client)["access_token"]
    assert _post(client, REVOKE, web_client, "client_secret_basic", {"token": revoked}).status_code == 200
    assert _introspect(client, service, revoked) == {"active": False}

    expiring = _client_token(client, service)
    assert _introspect(client, service, expiring)["active"] is True
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert _introspect(client, service, expiring) == {"active": False}


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
    access = _client_token(client, service)
    response = client.post(INTROSPECT, data={"token": access}, headers=headers)
    _assert_invalid_client(response)
    assert "active" not in response.get_json()


# -- revocation


def test_revocation_answers_200_for_own_and_unknown_tokens(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any
) -> None:
    access = _user_tokens(client, web_client)["access_token"]
    for token in (mint(TokenKind.ACCESS), mint(TokenKind.REFRESH), "garbage", ""):
        response = _post(client, REVOKE, web_client, "client_secret_basic", {"token": token})
        assert response.status_code == 200, (token, response.get_json())
    assert _is_active(client, service, access)  # revoking unknown tokens touched nothing
    response = _post(client, REVOKE, web_client, "client_secret_post", {"token": access})
    assert response.status_code == 200
    assert not _is_active(client, service, access)
    # revoking it again is still fine
    assert _post(client, REVOKE, web_client, "client_secret_basic", {"token": access}).status_code == 200


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
    tokens = _user_tokens(client, web_client)
    other_web = register_client(store, name="Other web app")
    for intruder in (machine, service, other_web):  # even the resource server may not revoke
        response = _post(client, REVOKE, intruder, "client_secret_basic", {"token": tokens[which]})
        assert response.status_code == 200 or response.get_json()["error"] in ("invalid_grant", "invalid_request")
    assert _is_active(client, service, tokens["access_token"])
    refreshed = _refresh(client, web_client, tokens["refresh_token"])
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
    tokens = _user_tokens(client, web_client)
    data = {"token": tokens[which], **({"token_type_hint": hint} if hint else {})}
    assert _post(client, REVOKE, web_client, "client_secret_basic", data).status_code == 200
    assert not _is_active(client, service, tokens["access_token"])
    response = _refresh(client, web_client, tokens["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize("which", ["first access", "latest access", "latest refresh", "middle access"])
def test_revoking_after_rotation_revokes_the_whole_family(
    client: FlaskClient,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
    which: str,
) -> None:
    generations = [_user_tokens(client, web_client)]
    for _ in range(2):
        response = _refresh(client, web_client, generations[-1]["refresh_token"])
        assert response.status_code == 200, response.get_json()
        generations.append(response.get_json())
    target = {
        "first access": generations[0]["access_token"],
        "middle access": generations[1]["access_token"],
        "latest access": generations[-1]["access_token"],
        "latest refresh": generations[-1]["refresh_token"],
    }[which]
    assert _post(client, REVOKE, web_client, "client_secret_basic", {"token": target}).status_code == 200
    for generation in generations:
        assert not _is_active(client, service, generation["access_token"]), which
    response = _refresh(client, web_client, generations[-1]["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic " + base64.b64encode(b"nobody:nothing").decode()}],
    ids=["none", "unknown-client"],
)
def test_revocation_without_valid_credentials_is_401_and_revokes_nothing(
    client: FlaskClient, web_client: RegisteredClient, service: RegisteredClient, user: Any, headers: dict[str, str]
) -> None:
    access = _user_tokens(client, web_client)["access_token"]
    _assert_invalid_client(client.post(REVOKE, data={"token": access}, headers=headers))
    wrong = _basic(web_client.client_id, mint(TokenKind.CLIENT_SECRET))
    _assert_invalid_client(client.post(REVOKE, data={"token": access}, headers=wrong))
    assert _is_active(client, service, access)
