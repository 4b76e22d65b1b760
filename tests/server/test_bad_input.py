"""The token, introspection, revocation and authorization endpoints under bad input.

Whatever arrives, the answer is a 4xx with an OAuth error (RFC 6749 §5.2, RFC 7009 §2.2.1) and never a 5xx;
JSON endpoints say ``Cache-Control: no-store`` even when they refuse (RFC 6749 §5.1); the authorization endpoint
shows an error page unless it knows the client and its redirect URI (RFC 6749 §4.1.2.1).
"""

import base64
import io
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from tessera.tokens import TokenKind, mint
from tests.conftest import (
    INTROSPECT,
    REDIRECT_URI,
    REVOKE,
    TOKEN,
    RegisteredClient,
    authorize_params,
    pkce_pair,
)

FORM = "application/x-www-form-urlencoded"
#: any character a form can carry (surrogates cannot be encoded)
_CHARS = st.characters(codec="utf-8")
ENDPOINTS = [TOKEN, INTROSPECT, REVOKE]

#: every error code a client may meet at these endpoints (RFC 6749 §5.2, RFC 7009 §2.2.1), 5xx codes excluded
OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "unsupported_token_type",
    }
)


def _valid_body(endpoint: str) -> dict[str, str]:
    if endpoint == TOKEN:
        return {"grant_type": "client_credentials"}
    return {"token": mint(TokenKind.ACCESS)}


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _raw_post(client: FlaskClient, path: str, body: bytes, headers: dict[str, str] | None = None) -> TestResponse:
    return client.post(path, data=body, headers={"Content-Type": FORM, **(headers or {})})


def assert_oauth_error(response: TestResponse, *, status: int | None = None, error: str | None = None) -> str:
    """A 4xx with a JSON OAuth error and ``no-store``; returns the error code."""
    text = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500, (response.status_code, text)
    if status is not None:
        assert response.status_code == status, text
    assert response.mimetype == "application/json", text
    body = response.get_json()
    assert isinstance(body, dict) and body.get("error") in OAUTH_ERRORS, text
    if error is not None:
        assert body["error"] == error, text
    assert response.headers.get("Cache-Control") == "no-store", response.headers
    return str(body["error"])


def assert_refused_or_unknown(response: TestResponse, endpoint: str) -> None:
    """At introspection and revocation a garbled ``token`` is just an unknown token (RFC 7662 §2.2,
    RFC 7009 §2.2); anything else must be refused with an OAuth error."""
    if endpoint == INTROSPECT and response.status_code == 200:
        assert response.get_json() == {"active": False}
        assert response.headers.get("Cache-Control") == "no-store"
    elif endpoint != REVOKE or response.status_code != 200:
        assert_oauth_error(response)


# -- content type, empty and malformed bodies


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_json_body_is_refused(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    response = client.post(endpoint, json=_valid_body(endpoint), headers=service.basic)
    assert_oauth_error(response, status=400, error="invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("content_type", [None, FORM, "text/plain", "multipart/form-data; boundary=x"])
def test_empty_body_is_refused(
    client: FlaskClient, service: RegisteredClient, endpoint: str, content_type: str | None
) -> None:
    headers = dict(service.basic)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = client.post(endpoint, data=b"", headers=headers)
    allowed = {"invalid_request", "unsupported_grant_type"} if endpoint == TOKEN else {"invalid_request"}
    assert assert_oauth_error(response, status=400) in allowed


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [b"%%%&&&==&=x&a=%ZZ", b"=", b"&&&", b"grant_type", b"token", b"grant_type=%", b"token=%G1", b"\x00\x00=\x00"],
)
def test_malformed_form_is_refused(client: FlaskClient, service: RegisteredClient, endpoint: str, body: bytes) -> None:
    assert_refused_or_unknown(_raw_post(client, endpoint, body, service.basic), endpoint)


@pytest.mark.parametrize(
    "grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:saml2-bearer", "CLIENT_CREDENTIALS", "x"]
)
def test_unknown_grant_type_is_unsupported(client: FlaskClient, service: RegisteredClient, grant_type: str) -> None:
    response = client.post(TOKEN, data={"grant_type": grant_type}, headers=service.basic)
    assert_oauth_error(response, status=400, error="unsupported_grant_type")


# -- missing and repeated parameters


@pytest.mark.parametrize(
    ("endpoint", "data"),
    [
        (TOKEN, {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}),
        (TOKEN, {"grant_type": "refresh_token"}),
        (INTROSPECT, {"token_type_hint": "access_token"}),
        (REVOKE, {"token_type_hint": "access_token"}),
    ],
)
def test_missing_parameter_is_invalid_request(
    client: FlaskClient, web_client: RegisteredClient, endpoint: str, data: dict[str, str]
) -> None:
    response = client.post(endpoint, data=data, headers=web_client.basic)
    assert_oauth_error(response, status=400, error="invalid_request")


@pytest.mark.parametrize(
    ("endpoint", "query", "body"),
    [
        (TOKEN, "", "grant_type=client_credentials&grant_type=client_credentials"),
        (TOKEN, "", "grant_type=client_credentials&grant_type=refresh_token"),
        (TOKEN, "", "grant_type=client_credentials&scope=api&scope=api"),
        (INTROSPECT, "", "token={t}&token={t}"),
        (REVOKE, "", "token={t}&token=other"),
        # the same parameter in the query and the body is just as ambiguous
        (TOKEN, "grant_type=refresh_token", "grant_type=client_credentials"),
        (INTROSPECT, "token_type_hint=access_token", "token={t}&token_type_hint=access_token"),
    ],
)
def test_repeated_parameter_is_invalid_request(
    client: FlaskClient, service: RegisteredClient, endpoint: str, query: str, body: str
) -> None:
    path = f"{endpoint}?{query}" if query else endpoint
    response = _raw_post(client, path, body.format(t=mint(TokenKind.ACCESS)).encode(), service.basic)
    assert_oauth_error(response, status=400, error="invalid_request")


# -- size and encoding


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_oversize_body_is_413_with_oauth_error(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    body = urlencode({**_valid_body(endpoint), "pad": "a" * (64 * 1024)}).encode()
    assert_oauth_error(_raw_post(client, endpoint, body, service.basic), status=413)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_oversize_body_without_content_length_is_413(
    client: FlaskClient, service: RegisteredClient, endpoint: str
) -> None:
    """A chunked upload announces no length; the limit must hold all the same."""

    body = urlencode({**_valid_body(endpoint), "pad": "a" * (64 * 1024)}).encode()
    response = client.post(
        endpoint,
        input_stream=io.BytesIO(body),
        headers={"Content-Type": FORM, **service.basic},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_oauth_error(response, status=413)


def test_very_long_client_id_is_invalid_client(client: FlaskClient) -> None:
    long_id = "c" * 20_000
    body = {"grant_type": "client_credentials", "client_id": long_id, "client_secret": "s"}
    assert_oauth_error(client.post(TOKEN, data=body), error="invalid_client")
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=_basic(f"{long_id}:s".encode()))
    assert_oauth_error(response, status=401, error="invalid_client")
    response = client.post(INTROSPECT, data={"token": "x"}, headers=_basic(f"{long_id}:s".encode()))
    assert_oauth_error(response, status=401, error="invalid_client")


@pytest.mark.parametrize("endpoint", [INTROSPECT, REVOKE])
def test_very_long_token_is_just_unknown(client: FlaskClient, service: RegisteredClient, endpoint: str) -> None:
    for token in ("t" * 60_000, "tsr_at_" + "A" * 60_000):
        response = client.post(endpoint, data={"token": token}, headers=service.basic)
        assert response.status_code == 200, response.get_data(as_text=True)
        if endpoint == INTROSPECT:
            assert response.get_json() == {"active": False}
            assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", ["code", "refresh_token"])
def test_very_long_grant_value_is_invalid_grant(client: FlaskClient, web_client: RegisteredClient, name: str) -> None:
    grant_type = "authorization_code" if name == "code" else "refresh_token"
    data = {"grant_type": grant_type, name: "tsr_" + "x" * 60_000, "redirect_uri": REDIRECT_URI}
    response = client.post(TOKEN, data=data, headers=web_client.basic)
    assert_oauth_error(response, status=400, error="invalid_grant")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&token=\xff\xfe&scope=\xc3\x28",
        b"grant_type=client_credentials&token=%FF%FE%00&scope=%C3%28",
        b"\xff\xfe=\xff&grant_type=client_credentials&token=x",
        b"grant_type=client\xffcredentials&token=tsr_at_\xff",
    ],
)
def test_non_utf8_body_is_refused_calmly(
    client: FlaskClient, service: RegisteredClient, endpoint: str, body: bytes
) -> None:
    assert_refused_or_unknown(_raw_post(client, endpoint, body, service.basic), endpoint)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8 once decoded
        "Basic " + base64.b64encode(b"id:secret").decode() + "\xe9",  # not ASCII: not base64 at all
        "Basic \xe9\xe9\xe9\xe9",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":").decode(),
        "Basic " + base64.b64encode(b"%ZZ:%ZZ").decode(),
        "Basic",
        "Basic ",
        "Bearer " + "x" * 10,
    ],
)
def test_malformed_basic_header_is_invalid_client(client: FlaskClient, endpoint: str, authorization: str) -> None:
    response = client.post(endpoint, data=_valid_body(endpoint), headers={"Authorization": authorization})
    assert_oauth_error(response, status=401, error="invalid_client")


# -- credentials where they do not belong, wrong method, two methods at once


@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        (TOKEN, "client_secret"),
        (TOKEN, "refresh_token"),
        (TOKEN, "code"),
        (INTROSPECT, "token"),
        (INTROSPECT, "client_secret"),
        (REVOKE, "token"),
        (REVOKE, "client_secret"),
    ],
)
def test_credentials_in_query_string_are_refused(
    client: FlaskClient, service: RegisteredClient, endpoint: str, name: str
) -> None:
    assert service.secret is not None
    value = service.secret if name == "client_secret" else mint(TokenKind.ACCESS)
    body = {**_valid_body(endpoint), "client_id": service.client_id}
    if name != "client_secret":
        body["client_secret"] = service.secret
    response = client.post(f"{endpoint}?{urlencode({name: value})}", data=body)
    assert_oauth_error(response, status=400, error="invalid_request")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: FlaskClient, service: RegisteredClient, endpoint: str, method: str) -> None:
    response = client.open(endpoint, method=method, query_string=_valid_body(endpoint), headers=service.basic)
    assert_oauth_error(response, status=405)
    assert "POST" in response.headers.get("Allow", ""), response.headers


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_basic_and_body_secret_together_are_refused(
    client: FlaskClient, service: RegisteredClient, endpoint: str
) -> None:
    assert service.secret is not None
    body = {**_valid_body(endpoint), "client_id": service.client_id, "client_secret": service.secret}
    response = client.post(endpoint, data=body, headers=service.basic)
    assert_oauth_error(response, status=400, error="invalid_request")


# -- any form at all


def _field_values(service: RegisteredClient) -> st.SearchStrategy[str]:
    assert service.secret is not None
    known = [
        service.client_id,
        service.secret,
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "api",
        REDIRECT_URI,
        mint(TokenKind.ACCESS),
        mint(TokenKind.REFRESH),
        mint(TokenKind.CODE),
        "",
    ]
    text = st.text(alphabet=_CHARS, max_size=80)
    return st.one_of(st.sampled_from(known), text)


_FIELD_NAMES = st.one_of(
    st.sampled_from(
        [
            "grant_type",
            "client_id",
            "client_secret",
            "code",
            "redirect_uri",
            "code_verifier",
            "refresh_token",
            "scope",
            "token",
        ]
    ),
    st.text(alphabet=_CHARS, min_size=1, max_size=20),
)


def test_any_form_gets_a_4xx_oauth_error_at_the_token_endpoint(client: FlaskClient, service: RegisteredClient) -> None:
    """A random form, with or without Basic credentials, never makes the token endpoint fail.

    The generated forms cannot hold a valid grant (the codes and tokens are made up), so each must be refused.
    """

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(form=st.dictionaries(_FIELD_NAMES, _field_values(service), max_size=8), use_basic=st.booleans())
    def check(form: dict[str, str], use_basic: bool) -> None:
        response = client.post(TOKEN, data=form, headers=service.basic if use_basic else {})
        assert response.status_code < 500, response.get_data(as_text=True)
        body: Any = response.get_json()
        if response.status_code == 200:
            # the only grant a made-up form can hold: client_credentials with the real secret in the body
            assert form.get("grant_type") == "client_credentials" and body["access_token"].startswith("tsr_at_")
            return
        assert_oauth_error(response)

    check()


# -- the authorization endpoint


def _assert_safe_authorize_answer(response: TestResponse) -> None:
    """An error page, or a redirect only to the one registered redirect URI."""
    assert response.status_code < 500, response.get_data(as_text=True)
    if 300 <= response.status_code < 400:
        location = response.headers["Location"]
        if urlsplit(location).netloc:
            assert location.startswith(REDIRECT_URI + "?"), location
        else:
            assert location.startswith("/login?"), location
        return
    assert 400 <= response.status_code < 500, response.status_code
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "query",
    [
        "",
        "response_type=code",
        "client_id=&redirect_uri=" + REDIRECT_URI,
        "client_id=%FF%FE&redirect_uri=%FF",
        "client_id=%00&response_type=%00",
        "client_id=" + "c" * 5000,
        "redirect_uri=javascript:alert(1)&response_type=code",
    ],
)
def test_authorize_without_a_valid_client_shows_an_error_page(client: FlaskClient, query: str) -> None:
    response = client.get("/authorize?" + query)
    _assert_safe_authorize_answer(response)
    assert response.status_code == 400 and "Location" not in response.headers


def test_authorize_missing_client_id_is_an_error_page(client: FlaskClient, web_client: RegisteredClient) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(web_client, challenge)
    del params["client_id"]
    response = client.get("/authorize?" + urlencode(params))
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Location" not in response.headers


@pytest.mark.parametrize("second", ["same", "unknown"])
def test_authorize_repeated_client_id_is_an_error_page(
    client: FlaskClient, web_client: RegisteredClient, second: str
) -> None:
    _, challenge = pkce_pair()
    params = list(authorize_params(web_client, challenge).items())
    params.append(("client_id", web_client.client_id if second == "same" else "unknown"))
    response = client.get("/authorize?" + urlencode(params))
    _assert_safe_authorize_answer(response)
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("param", ["redirect_uri", "response_type", "state", "scope"])
def test_authorize_repeated_parameter_never_fails(
    client: FlaskClient, web_client: RegisteredClient, user: Any, param: str
) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(web_client, challenge)
    pairs = [*params.items(), (param, params[param])]
    _assert_safe_authorize_answer(client.get("/authorize?" + urlencode(pairs)))


@pytest.mark.parametrize("where", ["state", "pad", "client_id"])
def test_authorize_10kb_query_string_is_refused(client: FlaskClient, web_client: RegisteredClient, where: str) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(web_client, challenge)
    params[where] = "x" * 10_240
    response = client.get("/authorize?" + urlencode(params))
    _assert_safe_authorize_answer(response)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("param", ["redirect_uri", "response_type"])
@pytest.mark.parametrize("junk", ['"', "\\", "\u00e9", "\x00", "\n", "\ufffd"])
def test_authorize_with_characters_an_error_description_cannot_hold(
    client: FlaskClient, web_client: RegisteredClient, param: str, junk: str
) -> None:
    """Authlib quotes these parameters in its error descriptions; odd characters in them must not break it."""
    _, challenge = pkce_pair()
    params = authorize_params(web_client, challenge)
    params[param] = params[param] + junk
    response = client.get("/authorize?" + urlencode(params))
    _assert_safe_authorize_answer(response)
    if param == "redirect_uri":  # not the registered one: never redirect
        assert response.status_code == 400 and "Location" not in response.headers


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "x", ""]
            ),
            st.text(alphabet=_CHARS, max_size=60),
        ),
        max_size=8,
    )
)
def test_any_query_gets_an_error_page_at_the_authorization_endpoint(
    client: FlaskClient, pairs: list[tuple[str, str]]
) -> None:
    """No registered client exists here, so every answer must be an error page and never a redirect."""
    response = client.get("/authorize?" + urlencode(pairs))
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.status_code == 400 and "Location" not in response.headers
