"""The Flask adapter: @require_token(...) and current_token, over a scripted source and both real sources."""

import asyncio
from contextlib import closing
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tessera.resource import IntrospectionSource, LocalSource, TokenCache, TokenValidator
from tessera.resource.flask import ResourceProtector, current_token
from tessera.store import Store
from tessera.tokens import TokenKind, mint
from tests.conftest import REVOKE, RegisteredClient, client_credentials_token, random_free_id
from tests.resource.conftest import ScriptedSource


def _api(protector: ResourceProtector) -> Flask:
    api = Flask("api")
    api.config["TESTING"] = True  # let exceptions reach the test

    @api.get("/data")
    @protector("api")
    def data() -> dict[str, Any]:
        return {"client_id": current_token.client_id, "username": current_token.username}

    @api.get("/restricted")
    @protector("api", "restricted")
    def restricted() -> str:
        return "Restricted API data."

    @api.get("/open")
    def open_view() -> str:
        return current_token.client_id  # not protected: there is no token

    return api


@pytest.fixture
def api(source: ScriptedSource) -> FlaskClient:
    return _api(ResourceProtector(TokenValidator(TokenCache(source), realm="test-api"))).test_client()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_good_token_reaches_the_view(api: FlaskClient, source: ScriptedSource) -> None:
    token, found = source.add(scope="api restricted")
    response = api.get("/data", headers=_bearer(token))
    assert response.status_code == 200
    assert response.json == {"client_id": found.client_id, "username": "alice"}
    assert api.get("/restricted", headers=_bearer(token)).get_data(as_text=True) == "Restricted API data."


def test_no_token_is_401_with_a_bare_challenge(api: FlaskClient) -> None:
    response = api.get("/data")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="test-api"'
    assert response.json == {"error_description": "An access token is required."}


@pytest.mark.parametrize(
    "header", [f"Bearer {mint(TokenKind.ACCESS)}", "Bearer nope", "Basic dXNlcjpwdw=="], ids=random_free_id
)
def test_a_bad_token_is_401_invalid_token(api: FlaskClient, header: str) -> None:
    response = api.get("/data", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="test-api", error="invalid_token"')
    assert response.json is not None and response.json["error"] == "invalid_token"


def test_two_authorization_headers_are_refused(api: FlaskClient, source: ScriptedSource) -> None:
    token, _ = source.add()
    response = api.get("/data", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])
    assert response.status_code == 401 and "more than one token" in response.headers["WWW-Authenticate"]


def test_a_missing_scope_is_403_insufficient_scope(api: FlaskClient, source: ScriptedSource) -> None:
    token, _ = source.add(scope="api")
    response = api.get("/restricted", headers=_bearer(token))
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="api restricted"' in challenge


def test_a_source_that_cannot_answer_is_503(api: FlaskClient, source: ScriptedSource) -> None:
    token, _ = source.add()
    source.down = True
    response = api.get("/data", headers=_bearer(token))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1" and "WWW-Authenticate" not in response.headers
    assert response.json is not None and response.json["error"] == "temporarily_unavailable"


def test_current_token_outside_a_protected_view_is_an_error(api: FlaskClient) -> None:
    with pytest.raises(RuntimeError, match="ResourceProtector"):
        api.get("/open")


def test_init_app_gives_each_app_its_own_validator() -> None:
    require_token = ResourceProtector()
    first, second = ScriptedSource(), ScriptedSource()
    token, _ = first.add()
    apps = [_api(require_token), _api(require_token)]
    require_token.init_app(apps[0], TokenValidator(first))
    require_token.init_app(apps[1], TokenValidator(second))
    assert apps[0].test_client().get("/data", headers=_bearer(token)).status_code == 200
    assert apps[1].test_client().get("/data", headers=_bearer(token)).status_code == 401


def test_a_protector_without_validator_says_so() -> None:
    api = _api(ResourceProtector())
    with pytest.raises(RuntimeError, match="init_app"):
        api.test_client().get("/data", headers=_bearer(mint(TokenKind.ACCESS)))


def test_views_keep_their_names() -> None:
    assert {"data", "restricted"} <= set(_api(ResourceProtector()).view_functions)


# the real sources


def test_local_source_behind_flask(
    client: FlaskClient, store: Store, service: RegisteredClient, sqlite_url: str
) -> None:
    token = client_credentials_token(client, service)
    source = LocalSource.from_url(sqlite_url)
    with closing(source):
        api = _api(ResourceProtector(TokenValidator(TokenCache(source, ttl=0)))).test_client()
        assert api.get("/data", headers=_bearer(token)).json == {"client_id": service.client_id, "username": None}
        assert api.get("/restricted", headers=_bearer(token)).status_code == 403
        client.post(REVOKE, data={"token": token}, headers=service.basic)
        assert api.get("/data", headers=_bearer(token)).status_code == 401


def test_introspection_source_behind_flask(
    introspection: IntrospectionSource, client: FlaskClient, service: RegisteredClient
) -> None:
    token = client_credentials_token(client, service)
    api = _api(ResourceProtector(TokenValidator(TokenCache(introspection, ttl=0)))).test_client()
    assert api.get("/data", headers=_bearer(token)).status_code == 200
    client.post(REVOKE, data={"token": token}, headers=service.basic)
    assert api.get("/data", headers=_bearer(token)).status_code == 401


def test_an_async_view_still_goes_through_the_apps_ensure_sync(source: ScriptedSource) -> None:
    protector = ResourceProtector(TokenValidator(TokenCache(source)))
    api = Flask("api")
    api.config["TESTING"] = True
    ran: list[str] = []

    def async_to_sync(func: Any) -> Any:  # what Flask's async extra does, without needing asgiref
        def run(*args: Any, **kwargs: Any) -> Any:
            ran.append(func.__name__)
            return asyncio.run(func(*args, **kwargs))

        return run

    api.async_to_sync = async_to_sync  # type: ignore[method-assign]

    @api.get("/data")  # type: ignore[type-var]  # the protector types its wrapper as returning the coroutine
    @protector("api")
    async def data() -> str:
        return current_token.client_id

    token, found = source.add(scope="api")
    response = api.test_client().get("/data", headers=_bearer(token))
    assert response.get_data(as_text=True) == found.client_id and ran == ["data"]
