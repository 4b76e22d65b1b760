"""OpenID Connect RP-Initiated Logout 1.0 at the end-session endpoint: the confirmation page, the session really
ended, ``state`` echoed to a registered ``post_logout_redirect_uri``, and every request that must never redirect
(a hint this server did not sign, a hint for another client, an unregistered URI, a URI with no client named)."""

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.test import TestResponse

from tessera.server.audit import as_json
from tessera.store import Store
from tessera.web.context import server_of
from tests.conftest import (
    ISSUER,
    MovableClock,
    RegisteredClient,
    authorize_params,
    csrf_from,
    pkce_pair,
    register_client,
)
from tests.server.test_openid import SCOPE, sign_in

END_SESSION = "/end-session"
AFTER = "https://rp.example/signed-out"
AFTER_WITH_QUERY = "https://rp.example/bye?from=op"


@pytest.fixture
def rp(store: Store) -> RegisteredClient:
    return register_client(
        store, name="Relying party", scope=SCOPE, post_logout_redirect_uris=(AFTER, AFTER_WITH_QUERY)
    )


@pytest.fixture
def other(store: Store) -> RegisteredClient:
    return register_client(
        store, name="Other party", scope=SCOPE, post_logout_redirect_uris=("https://other.example/",)
    )


@pytest.fixture
def hint(client: FlaskClient, rp: RegisteredClient, user: Any) -> str:
    """Alice signed in through ``rp``: the ID token it holds."""
    return str(sign_in(client, rp)["id_token"])


def _ask(client: FlaskClient, **params: str) -> TestResponse:
    return client.get(END_SESSION + ("?" + urlencode(params) if params else ""))


def _confirm(client: FlaskClient, page: TestResponse, url: str, csrf: str | None = None) -> TestResponse:
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert ">Sign out</button>" in html
    return client.post(url, data={"csrf_token": csrf_from(html) if csrf is None else csrf})


def _end(client: FlaskClient, **params: str) -> TestResponse:
    url = END_SESSION + ("?" + urlencode(params) if params else "")
    return _confirm(client, client.get(url), url)


def _signed_in(client: FlaskClient, rp: RegisteredClient) -> bool:
    """Whether the authorization endpoint knows who this browser is (else it sends it to sign in)."""
    _, challenge = pkce_pair()
    response = client.get("/authorize?" + urlencode(authorize_params(rp, challenge, scope=SCOPE)))
    return not (response.status_code == 302 and "/login" in response.headers["Location"])


def _refused(response: TestResponse, words: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert words in response.get_data(as_text=True)


def test_discovery_names_the_end_session_endpoint_in_both_documents(client: FlaskClient) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        assert client.get(path).get_json()["end_session_endpoint"] == ISSUER + END_SESSION


def test_sign_out_with_a_hint_ends_the_session_and_goes_back_with_state(
    app: Flask, client: FlaskClient, rp: RegisteredClient, hint: str
) -> None:
    assert _signed_in(client, rp)
    page = _ask(client, id_token_hint=hint, post_logout_redirect_uri=AFTER, state="s-1")
    text = page.get_data(as_text=True)
    assert "Relying party asks to sign you out of Tessera" in text and "alice" in text
    assert _signed_in(client, rp), "showing the page signs nobody out"
    url = END_SESSION + "?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "s-1"})
    response = _confirm(client, page, url)
    assert response.status_code == 303
    assert response.headers["Location"] == AFTER + "?state=s-1"
    assert not _signed_in(client, rp), "the next authorization request asks to sign in again"
    events = [as_json(e) for e in server_of(app).context.store.audit.list(limit=100)]
    signed_out = [e for e in events if e["event"] == "user.signed_out"]
    assert signed_out and signed_out[0]["client_id"] == rp.client_id and signed_out[0]["user"] == "alice"


def test_state_is_added_to_a_registered_uri_with_a_query(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    response = _end(client, id_token_hint=hint, post_logout_redirect_uri=AFTER_WITH_QUERY, state="abc")
    assert response.status_code == 303
    parts = urlsplit(response.headers["Location"])
    assert parts.netloc == "rp.example" and parts.path == "/bye"
    assert parse_qs(parts.query) == {"from": ["op"], "state": ["abc"]}


def test_without_state_the_uri_is_followed_as_registered(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    assert _end(client, id_token_hint=hint, post_logout_redirect_uri=AFTER).headers["Location"] == AFTER


def test_a_clients_form_post_is_answered_as_its_get(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    params = {"id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "posted"}
    response = client.post(END_SESSION, data=params)
    assert response.status_code == 303
    target = response.headers["Location"]
    assert urlsplit(target).path == END_SESSION and parse_qs(urlsplit(target).query) == {
        k: [v] for k, v in params.items()
    }
    assert _signed_in(client, rp), "the client's POST alone signs nobody out"
    done = _confirm(client, client.get(target), target)
    assert done.headers["Location"] == AFTER + "?state=posted"
    assert not _signed_in(client, rp)


def test_a_hint_without_a_redirect_uri_ends_on_the_signed_out_page(
    client: FlaskClient, rp: RegisteredClient, hint: str
) -> None:
    response = _end(client, id_token_hint=hint, state="ignored")
    assert response.status_code == 303 and response.headers["Location"] == "/logged-out"
    assert "You are signed out" in client.get("/logged-out").get_data(as_text=True)
    assert not _signed_in(client, rp)


def test_no_parameters_at_all_asks_then_signs_out(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    response = _end(client)
    assert response.headers["Location"] == "/logged-out"
    assert not _signed_in(client, rp)


def test_client_id_without_a_redirect_uri_names_the_client(
    client: FlaskClient, rp: RegisteredClient, hint: str
) -> None:
    page = _ask(client, client_id=rp.client_id)
    assert "Relying party asks to sign you out" in page.get_data(as_text=True)
    response = _confirm(client, page, END_SESSION + "?" + urlencode({"client_id": rp.client_id}))
    assert response.headers["Location"] == "/logged-out"
    assert not _signed_in(client, rp)


def test_an_expired_hint_is_still_accepted(
    client: FlaskClient, rp: RegisteredClient, hint: str, clock: MovableClock
) -> None:
    assert client.application is not None
    clock.advance(server_of(client.application).context.settings.id_token_ttl + 60)
    response = _end(client, id_token_hint=hint, post_logout_redirect_uri=AFTER, state="late")
    assert response.headers["Location"] == AFTER + "?state=late"


def test_the_confirmation_needs_the_csrf_token(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    url = END_SESSION + "?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": AFTER})
    response = _confirm(client, client.get(url), url, csrf="forged")
    assert response.status_code == 400 and "Location" not in response.headers
    assert _signed_in(client, rp), "a forged confirmation signs nobody out"


def _forged(claims: dict[str, Any], header: dict[str, Any]) -> str:
    key = RSAKey.generate_key(2048)
    return jwt.encode(header, claims, key)


@pytest.mark.parametrize("kind", ["garbage", "another key", "alg none", "tampered", "another issuer"])
def test_a_hint_this_server_did_not_sign_is_refused(
    client: FlaskClient, rp: RegisteredClient, hint: str, kind: str
) -> None:
    claims = _claims(hint)
    if kind == "garbage":
        forged = "not-a-jwt"
    elif kind == "another key":
        forged = _forged(claims, {"alg": "RS256", "kid": _kid(hint)})
    elif kind == "alg none":

        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        forged = part({"alg": "none", "kid": _kid(hint)}) + "." + part(claims) + "."
    elif kind == "another issuer":  # signed with this server's own key, but naming someone else as its issuer
        assert client.application is not None
        key = server_of(client.application).context.keys.signing_key("RS256")
        forged = jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "iss": "https://evil.example"}, key.key)
    else:
        head, body, signature = hint.split(".")
        forged = head + "." + body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    response = _ask(client, id_token_hint=forged, post_logout_redirect_uri=AFTER, state="x")
    _refused(response, "not an ID token this server issued")
    assert _signed_in(client, rp)


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


def _kid(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def test_a_hint_for_another_client_is_refused(
    client: FlaskClient, rp: RegisteredClient, other: RegisteredClient, hint: str
) -> None:
    response = _ask(
        client, id_token_hint=hint, client_id=other.client_id, post_logout_redirect_uri="https://other.example/"
    )
    _refused(response, "issued to another application")


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/",
        "https://other.example/",  # registered, but by another client
        AFTER + "?extra=1",  # registered ones match exactly
        AFTER + "/",
        "http://rp.example/signed-out",
    ],
)
def test_an_unregistered_post_logout_redirect_uri_is_never_followed(
    client: FlaskClient, rp: RegisteredClient, other: RegisteredClient, hint: str, uri: str
) -> None:
    _refused(_ask(client, id_token_hint=hint, post_logout_redirect_uri=uri), "has not registered")
    # nor after a confirmation forged with this session's own CSRF token
    csrf = csrf_from(_ask(client, id_token_hint=hint).get_data(as_text=True))
    url = END_SESSION + "?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": uri})
    _refused(client.post(url, data={"csrf_token": csrf}), "has not registered")
    assert _signed_in(client, rp)


def test_a_redirect_uri_without_a_hint_is_never_followed(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    """Even a registered one, even with the client_id: nothing proves the client sent the person here."""
    _refused(_ask(client, post_logout_redirect_uri=AFTER, state="x"), "that proves it is the application")
    _refused(_ask(client, client_id=rp.client_id, post_logout_redirect_uri=AFTER), "that proves it is the application")
    assert _signed_in(client, rp)


def test_an_unknown_client_id_is_refused(client: FlaskClient, rp: RegisteredClient, hint: str) -> None:
    _refused(_ask(client, client_id="nobody", post_logout_redirect_uri=AFTER), "not registered with this server")


def test_nobody_signed_in_still_gets_the_page_and_the_redirect(
    client: FlaskClient, rp: RegisteredClient, hint: str
) -> None:
    assert _end(client, id_token_hint=hint).status_code == 303  # alice signed out
    page = _ask(client, id_token_hint=hint, post_logout_redirect_uri=AFTER, state="again")
    assert "You are not signed in" in page.get_data(as_text=True)
    url = END_SESSION + "?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "again"})
    assert _confirm(client, page, url).headers["Location"] == AFTER + "?state=again"
