"""RFC 6750 §3 challenges and bodies of the resource errors."""

import pytest

from tessera.resource import InsufficientScope, InvalidToken, MissingToken, ServerUnavailable, TokenError


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
