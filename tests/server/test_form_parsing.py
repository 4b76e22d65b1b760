"""Property tests of how the machine endpoints read their form bodies, below the level of a well-formed form:
any bytes at all, any list of (name, value) pairs with repeats, at the token, introspection and revocation
endpoints. The answer is never a 5xx; every 4xx is a JSON OAuth error with ``Cache-Control: no-store``; a
repeated parameter is always ``invalid_request`` (RFC 6749 §3.2); and introspection never says ``active``
for anything but the one real token.

(``tests/server/test_bad_input.py`` covers random well-formed forms at the token endpoint and the
authorization endpoint's query; these complement it.)
"""

from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import INTROSPECT, REVOKE, TOKEN, RegisteredClient

ENDPOINTS = st.sampled_from([TOKEN, INTROSPECT, REVOKE])
FORM = "application/x-www-form-urlencoded"
NAMES = ["grant_type", "client_id", "client_secret", "token", "token_type_hint", "scope", "refresh_token", "code"]


@pytest.fixture
def real_token(client: FlaskClient, service: RegisteredClient) -> str:
    issued = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    return str(issued.get_json()["access_token"])


_settings = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _assert_well_answered(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert isinstance(body, dict)
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body
        assert set(body) <= {"error", "error_description", "error_uri"}, body


# raw bytes: percent escapes cut short, invalid UTF-8, stray '&' and '=', NULs, '+' ...
_pieces = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"&", b"=", b"%", b"%e9", b"%ZZ", b"%00", b"+", b"%C3%28", b"\xff\xfe", b";", b"token="]),
    st.sampled_from([n.encode() + b"=" for n in NAMES]),
)


@_settings
@given(endpoint=ENDPOINTS, pieces=st.lists(_pieces, max_size=12), basic=st.booleans())
def test_any_bytes_get_a_json_answer_and_never_a_5xx(
    client: FlaskClient, service: RegisteredClient, endpoint: str, pieces: list[bytes], basic: bool
) -> None:
    body = b"".join(pieces)
    headers = {"Content-Type": FORM, **(service.basic if basic else {})}
    _assert_well_answered(client.post(endpoint, data=body, headers=headers))


_pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), st.text(max_size=30)), min_size=1, max_size=8
)


@_settings
@given(endpoint=ENDPOINTS, pairs=_pairs)
def test_a_repeated_parameter_is_always_invalid_request(
    client: FlaskClient, service: RegisteredClient, endpoint: str, pairs: list[tuple[str, str]]
) -> None:
    name, value = pairs[0]
    pairs = [*pairs, (name, value)]  # now at least one name appears twice
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    response = client.post(endpoint, data=body, headers={"Content-Type": FORM, **service.basic})
    _assert_well_answered(response)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request", response.get_json()


@_settings
@given(pairs=_pairs, keep_token=st.booleans())
def test_introspection_is_active_only_for_the_real_token(
    client: FlaskClient, service: RegisteredClient, real_token: str, pairs: list[tuple[str, str]], keep_token: bool
) -> None:
    form = dict(pairs)
    if keep_token:
        form["token"] = real_token
    response = client.post(INTROSPECT, data=form, headers=service.basic)
    _assert_well_answered(response)
    if response.status_code == 200 and response.get_json()["active"]:
        assert form.get("token") == real_token
    elif response.status_code == 200:
        assert response.get_json() == {"active": False}


def test_the_real_token_with_harmless_extras_is_active(
    client: FlaskClient, service: RegisteredClient, real_token: str
) -> None:
    form = {"token": real_token, "token_type_hint": "", "unknown": "x"}
    assert client.post(INTROSPECT, data=form, headers=service.basic).get_json()["active"] is True
