"""``prompt``, ``max_age`` and what the authorization endpoint refuses for OpenID Connect requests: each refusal
goes back to the client's redirect URI with ``state`` and ``iss``; a bad client or redirect URI still gets a page."""

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tessera.store import Store
from tests.conftest import (
    ISSUER,
    MovableClock,
    RegisteredClient,
    authorize_params,
    exchange,
    login,
    pkce_pair,
    register_client,
)
from tests.server.test_openid import SCOPE, sign_in


@pytest.fixture
def rp(store: Store) -> RegisteredClient:
    return register_client(store, name="Relying party", scope=SCOPE)


def _authorize(client: FlaskClient, rp: RegisteredClient, **extra: str) -> Any:
    _, challenge = pkce_pair()
    return client.get("/authorize?" + urlencode(authorize_params(rp, challenge, scope=SCOPE, **extra)))


def _error(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(str(response.headers["Location"])).query)
    assert query["iss"] == [ISSUER] and query["state"] == ["xyz"], query
    return query["error"][0]


def _signed_in_again(client: FlaskClient, rp: RegisteredClient, **extra: str) -> dict[str, Any]:
    """Follow the request to the sign-in page, sign in, come back to where it says, and redeem the code."""
    verifier, challenge = pkce_pair()
    response = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, scope=SCOPE, **extra)))
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.headers
    back = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    login(client)
    response = client.get(back)
    assert response.status_code == 302, response.get_data(as_text=True)
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    tokens: dict[str, Any] = exchange(client, rp, code, verifier).get_json()
    return tokens


def _auth_time(client: FlaskClient, tokens: dict[str, Any]) -> int:
    keys = KeySet.import_key_set(client.get("/oauth/jwks").get_json())
    return int(jwt.decode(tokens["id_token"], keys).claims["auth_time"])


def test_prompt_none_without_a_session_is_login_required(client: FlaskClient, rp: RegisteredClient, user: Any) -> None:
    assert _error(_authorize(client, rp, prompt="none")) == "login_required"


def test_prompt_none_without_consent_is_consent_required(client: FlaskClient, rp: RegisteredClient, user: Any) -> None:
    login(client)
    assert _error(_authorize(client, rp, prompt="none")) == "consent_required"


def test_prompt_none_with_a_session_and_consent_answers_at_once(
    client: FlaskClient, rp: RegisteredClient, user: Any
) -> None:
    sign_in(client, rp)
    response = _authorize(client, rp, prompt="none")
    assert response.status_code == 302 and "code=" in response.headers["Location"]


def test_prompt_login_and_max_age_make_the_person_sign_in_again_and_auth_time_moves(
    client: FlaskClient, rp: RegisteredClient, user: Any, clock: MovableClock
) -> None:
    first = _auth_time(client, sign_in(client, rp))
    clock.advance(30)
    response = _authorize(client, rp, prompt="login")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "prompt" not in parse_qs(urlsplit(parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]).query)
    second = _auth_time(client, _signed_in_again(client, rp, prompt="login"))
    assert second >= first + 30
    clock.advance(30)
    assert _auth_time(client, sign_in(client, rp, max_age="3600")) == second  # recent enough: no new sign-in
    assert _auth_time(client, _signed_in_again(client, rp, max_age="10")) >= second + 30
    clock.advance(30)
    assert _error(_authorize(client, rp, prompt="none", max_age="10")) == "login_required"


def test_prompt_consent_asks_again(client: FlaskClient, rp: RegisteredClient, user: Any) -> None:
    sign_in(client, rp)
    assert _authorize(client, rp).status_code == 302  # remembered
    page = _authorize(client, rp, prompt="consent")
    assert page.status_code == 200 and "Allow" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"prompt": "sometimes"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example/request.jwt"}, "request_uri_not_supported"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
    ],
)
def test_what_is_refused_goes_back_to_the_client(
    client: FlaskClient, rp: RegisteredClient, user: Any, extra: dict[str, str], error: str
) -> None:
    login(client)
    assert _error(_authorize(client, rp, **extra)) == error


def test_a_bad_client_still_gets_a_page_never_a_redirect(client: FlaskClient, user: Any) -> None:
    params = {"response_type": "code id_token", "client_id": "nobody", "redirect_uri": "https://evil.example/",
              "scope": "openid", "prompt": "none", "nonce": "n"}  # fmt: skip
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 400 and "Location" not in response.headers
