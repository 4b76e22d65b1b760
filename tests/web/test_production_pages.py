"""With ``TESSERA_ENV=production`` the pages harden what the browser is told: the session cookie is a ``__Host-``
cookie (Secure, ``Path=/``, no ``Domain``), and a page's forms may only lead to the server itself and to the
client the page is about (CSP ``form-action``). In development the cookie and the policy stay as they were.

That the browser really checks ``form-action`` along the redirects after a form, and that these origins are the
ones each page needs, is shown in Chromium: ``tests/e2e/test_form_action.py``.
"""

from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.app import create_app
from tessera.config import Settings
from tessera.store import Store
from tests.conftest import (
    RegisteredClient,
    authorize_params,
    csrf_from,
    login,
    pkce_pair,
    register_client,
    settings_for,
)

CALLBACK = "https://app.example:8443/cb"
HOST_COOKIE = "__Host-tessera_session"


def _app(settings: Settings, store: Store, **env: str) -> Flask:
    app = create_app(settings_for(settings.database_url, **env), store=store)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def production(settings: Settings, store: Store) -> Flask:
    return _app(settings, store, TESSERA_ENV="production", TESSERA_ISSUER="https://auth.example")


@pytest.fixture
def app_client(store: Store) -> RegisteredClient:
    return register_client(store, name="Billing", redirect_uris=(CALLBACK, "https://other.example/cb"))


def _attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    """The cookie's name, and its attributes by lower-case name."""
    name = set_cookie.split("=", 1)[0]
    attributes = {}
    for part in set_cookie.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value
    return name, attributes


def _session_cookies(response: TestResponse) -> list[tuple[str, dict[str, str]]]:
    return [_attributes(c) for c in response.headers.getlist("Set-Cookie") if "tessera_session" in c.split("=")[0]]


def _sign_in(client: FlaskClient, next_url: str = "/") -> TestResponse:
    page = client.get("/login?" + urlencode({"next": next_url})).get_data(as_text=True)
    data = {"username": "alice", "password": "correct horse", "csrf_token": csrf_from(page), "next": next_url}
    return client.post("/login", data=data)


@pytest.mark.parametrize("issuer", ["https://auth.example", "http://127.0.0.1:8000"])
def test_production_session_cookie_is_host_prefixed_and_secure(
    settings: Settings, store: Store, user: Any, issuer: str
) -> None:
    client = _app(settings, store, TESSERA_ENV="production", TESSERA_ISSUER=issuer).test_client()
    anonymous = _session_cookies(client.get("/login"))  # the CSRF token's session, before signing in
    signed_in = _sign_in(client)
    assert signed_in.status_code == 303
    cookies = [*anonymous, *_session_cookies(signed_in)]
    assert len(cookies) == 2
    for name, attributes in cookies:
        assert name == HOST_COOKIE
        assert "secure" in attributes and attributes["path"] == "/" and "domain" not in attributes, attributes
        assert "httponly" in attributes and attributes["samesite"] == "Lax", attributes
    assert "expires" in cookies[1][1]  # the signed-in one: no longer than the session
    home = client.get("/")
    assert home.status_code == 200 and "signed in to Tessera as <strong>alice</strong>" in home.get_data(as_text=True)


def test_development_keeps_the_plain_cookie(client: FlaskClient, user: Any) -> None:
    ((name, attributes),) = _session_cookies(_sign_in(client))
    assert name == "tessera_session" and "secure" not in attributes  # the tests' issuer is http://127.0.0.1:8000


def _form_action(response: TestResponse) -> str:
    policy = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}
    assert (
        directives["default-src"] == "default-src 'self'" and directives["frame-ancestors"] == "frame-ancestors 'none'"
    )
    return directives["form-action"]


def _authorize(registered: RegisteredClient, redirect_uri: str = CALLBACK) -> str:
    _, challenge = pkce_pair()
    return "/authorize?" + urlencode(authorize_params(registered, challenge, redirect_uri=redirect_uri))


def test_the_sign_in_page_for_an_authorization_allows_the_clients_redirect_origin(
    production: Flask, app_client: RegisteredClient, user: Any
) -> None:
    client = production.test_client()
    authorize = _authorize(app_client)
    to_login = client.get(authorize)
    assert to_login.status_code == 302
    page = client.get(to_login.headers["Location"])
    assert "to continue to <strong>Billing</strong>" in page.get_data(as_text=True)
    assert _form_action(page) == "form-action 'self' https://app.example:8443"
    # a failed attempt shows the same form, for the same client
    failed = client.post(
        "/login",
        data={
            "username": "alice",
            "password": "wrong",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "next": authorize,
        },
    )
    assert "do not match" in failed.get_data(as_text=True)
    assert _form_action(failed) == "form-action 'self' https://app.example:8443"


@pytest.mark.parametrize(
    "next_url",
    [
        pytest.param("/", id="no-authorization"),
        pytest.param("/authorize?" + urlencode({"client_id": "nobody", "redirect_uri": CALLBACK}), id="unknown-client"),
        pytest.param("unregistered", id="unregistered-redirect-uri"),
        pytest.param("https://app.example:8443/cb", id="next-elsewhere"),
    ],
)
def test_any_other_sign_in_page_allows_only_the_server(
    production: Flask, app_client: RegisteredClient, next_url: str
) -> None:
    if next_url == "unregistered":
        next_url = _authorize(app_client, redirect_uri="https://evil.example/cb")
    page = production.test_client().get("/login?" + urlencode({"next": next_url}))
    assert page.status_code == 200
    assert _form_action(page) == "form-action 'self'"


def test_the_consent_page_allows_the_redirect_origin_of_its_request(
    production: Flask, app_client: RegisteredClient, user: Any
) -> None:
    client = production.test_client()
    login(client)
    consent = client.get(_authorize(app_client, redirect_uri="https://other.example/cb"))
    assert "Authorize Billing" in consent.get_data(as_text=True)
    assert _form_action(consent) == "form-action 'self' https://other.example"  # not the client's other origin


def test_pages_without_a_client_allow_only_the_server(production: Flask, user: Any) -> None:
    client = production.test_client()
    error = client.get("/authorize?client_id=nobody")
    assert error.status_code == 400 and _form_action(error) == "form-action 'self'"
    login(client)
    for path in ("/", "/logout", "/logged-out", "/no-such-page"):
        assert _form_action(client.get(path)) == "form-action 'self'", path


@pytest.mark.parametrize(
    ("redirect_uri", "source"),
    [
        ("http://127.0.0.1:9000/cb", "http://127.0.0.1:9000"),
        ("https://App.Example/cb?x=1", "https://app.example"),
        ("https://app.example:443/cb", "https://app.example:443"),
        ("https://bücher.example/cb", "https://xn--bcher-kva.example"),
        # CSP cannot write an IPv6 literal (Chromium ignores such a source): only the scheme lets it through
        ("http://[::1]:9000/cb", "http:"),
        # a native app's private-use scheme has no origin: its scheme is what lets the redirect through
        ("com.example.app:/oauth2redirect", "com.example.app:"),
    ],
)
def test_the_redirect_origin_is_written_as_csp_can_match_it(
    production: Flask, store: Store, user: Any, redirect_uri: str, source: str
) -> None:
    registered = register_client(store, redirect_uris=(redirect_uri,))
    client = production.test_client()
    login(client)
    consent = client.get(_authorize(registered, redirect_uri=redirect_uri))
    assert consent.status_code == 200, consent.get_data(as_text=True)
    assert _form_action(consent) == f"form-action 'self' {source}"


def test_development_keeps_the_permissive_form_action(
    client: FlaskClient, store: Store, app_client: RegisteredClient, user: Any
) -> None:
    development = "form-action 'self' http: https:"
    authorize = _authorize(app_client)
    assert _form_action(client.get("/login?" + urlencode({"next": authorize}))) == development
    login(client)
    assert _form_action(client.get(authorize)) == development
    assert _form_action(client.get("/logout")) == development
    native = register_client(store, redirect_uris=("com.example.app:/cb",))
    consent = client.get(_authorize(native, redirect_uri="com.example.app:/cb"))
    assert _form_action(consent) == f"{development} com.example.app:"


def test_the_end_session_page_allows_only_the_registered_post_logout_origin(
    production: Flask, store: Store, user: Any
) -> None:
    from tests.server.test_openid import SCOPE, sign_in

    rp = register_client(store, name="RP", scope=SCOPE, post_logout_redirect_uris=("https://rp.example:8443/bye",))
    client = production.test_client()
    hint = sign_in(client, rp)["id_token"]
    page = client.get(
        "/end-session?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": "https://rp.example:8443/bye"})
    )
    assert page.status_code == 200 and _form_action(page) == "form-action 'self' https://rp.example:8443"
    assert _form_action(client.get("/end-session?" + urlencode({"id_token_hint": hint}))) == "form-action 'self'"
