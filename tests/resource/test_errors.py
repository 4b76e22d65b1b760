"""RFC 6750 §3 challenges and bodies of the resource errors."""

import pytest

from tessera.resource import (
    InsufficientScope,
    InvalidToken,
    MissingToken,
    ServerUnavailable,
    TokenError,
    TokenValidator,
)
from tessera.resource import fastapi as fastapi_adapter
from tessera.resource import flask as flask_adapter
from tests.resource.conftest import ScriptedSource


def test_no_token_is_a_bare_challenge() -> None:
    exc = MissingToken()
    assert isinstance(exc, InvalidToken) and exc.status_code == 401 and exc.error is None
    assert exc.www_authenticate() == "Bearer"
    assert exc.www_authenticate(realm="billing") == 'Bearer realm="billing"'
    assert exc.body() == {"error_description": "An access token is required."}


def test_invalid_token_challenge() -> None:
    exc = InvalidToken("The access token is invalid, expired or revoked.")
    assert exc.status_code == 401
    assert exc.headers("api") == {
        "WWW-Authenticate": 'Bearer realm="api", error="invalid_token", '
        'error_description="The access token is invalid, expired or revoked."'
    }
    assert exc.body() == {"error": "invalid_token", "error_description": exc.description}


def test_insufficient_scope_names_every_required_scope() -> None:
    exc = InsufficientScope(frozenset({"write", "api"}))
    assert exc.status_code == 403
    challenge = exc.www_authenticate()
    assert challenge.startswith('Bearer error="insufficient_scope", error_description="')
    assert challenge.endswith(', scope="api write"')


def test_server_unavailable_is_503_with_retry_after_and_keeps_its_detail_out_of_the_answer() -> None:
    exc = ServerUnavailable("introspection answered HTTP 502")
    assert exc.status_code == 503 and exc.error == "temporarily_unavailable"
    assert exc.headers() == {"Retry-After": "1"}
    assert "502" not in exc.description and "502" not in str(exc.body())
    assert exc.detail == "introspection answered HTTP 502"


@pytest.mark.parametrize("realm", ['a"b', "a\\b", "tab\there", "é"])
def test_nothing_breaks_out_of_a_quoted_string(realm: str) -> None:
    with pytest.raises(ValueError):
        InvalidToken("x").www_authenticate(realm)
    with pytest.raises(ValueError):
        InvalidToken(realm).www_authenticate()


def test_one_base_class_to_catch() -> None:
    for exc in (MissingToken(), InvalidToken("x"), InsufficientScope(frozenset()), ServerUnavailable("x")):
        assert isinstance(exc, TokenError)


def test_a_challenge_can_name_the_scopes_and_the_metadata_last() -> None:
    where = "https://api.example/.well-known/oauth-protected-resource"
    assert (
        MissingToken().www_authenticate("api", scopes={"write", "read"}, resource_metadata=where)
        == f'Bearer realm="api", scope="read write", resource_metadata="{where}"'
    )
    short = InsufficientScope(frozenset({"write"}))
    assert short.www_authenticate(scopes={"write"}, resource_metadata=where).endswith(
        f', scope="write", resource_metadata="{where}"'
    )
    assert ServerUnavailable("x").headers("api", scopes={"read"}, resource_metadata=where) == {"Retry-After": "1"}
    with pytest.raises(ValueError):
        MissingToken().www_authenticate(resource_metadata='https://x/"')


@pytest.mark.parametrize("scope", ['a"b', "a b", "", "a\\b", "é"])
def test_a_route_whose_scope_no_challenge_could_name_is_refused_when_declared(scope: str) -> None:
    validator = TokenValidator(ScriptedSource())
    for protector in (flask_adapter.ResourceProtector(validator), fastapi_adapter.ResourceProtector(validator)):
        with pytest.raises(ValueError, match="not a scope name"):
            protector("api", scope)
