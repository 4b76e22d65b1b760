"""Loopback redirect URIs match on any port (RFC 8252 §7.3); nothing else about a redirect URI is loosened."""

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient

from tessera.server.clients import OAuthClient
from tessera.server.loopback import without_port
from tessera.store import Store
from tests.conftest import (
    INTROSPECT,
    TOKEN,
    RegisteredClient,
    authorize_params,
    get_code,
    pkce_pair,
    register_client,
)


def _redeem(client: FlaskClient, registered: RegisteredClient, code: str, verifier: str, redirect_uri: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return client.post(TOKEN, data=data, headers=registered.basic)


@pytest.mark.parametrize(
    ("registered", "requested", "elsewhere"),
    [
        ("http://127.0.0.1/cb", "http://127.0.0.1:53682/cb", "http://127.0.0.1:53683/cb"),
        ("http://127.0.0.1:8080/cb?app=cli", "http://127.0.0.1:61000/cb?app=cli", "http://127.0.0.1:8080/cb?app=cli"),
        ("http://[::1]:8080/cb", "http://[::1]:49152/cb", "http://[::1]/cb"),
    ],
)
def test_a_loopback_redirect_uri_works_through_the_whole_flow_on_a_port_never_registered(
    client: FlaskClient,
    store: Store,
    user: Any,
    service: RegisteredClient,
    registered: str,
    requested: str,
    elsewhere: str,
) -> None:
    app = register_client(store, name="CLI", redirect_uris=(registered,))
    verifier, challenge = pkce_pair()
    code = get_code(client, app, challenge, redirect_uri=requested)  # the code goes back to the port asked for
    # the code is bound to the redirect URI it was issued for, port included (RFC 6749 §4.1.3), even the registered
    refused = _redeem(client, app, code, verifier, elsewhere)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    code = get_code(client, app, challenge, redirect_uri=requested)
    issued = _redeem(client, app, code, verifier, requested)
    assert issued.status_code == 200, issued.json
    answer = client.post(INTROSPECT, data={"token": issued.json["access_token"]}, headers=service.basic)
    assert answer.json["active"] is True and answer.json["client_id"] == app.client_id


def test_the_redirect_goes_to_the_port_of_the_request(client: FlaskClient, store: Store, user: Any) -> None:
    app = register_client(store, name="CLI", redirect_uris=("http://127.0.0.1/cb",))
    _, challenge = pkce_pair()
    get_code(client, app, challenge, redirect_uri="http://127.0.0.1:40000/cb")  # signs in and consents
    response = client.get(
        "/authorize?" + urlencode(authorize_params(app, challenge, redirect_uri="http://127.0.0.1:40001/cb"))
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "127.0.0.1:40001", "/cb")
    assert "code" in parse_qs(location.query)


@pytest.mark.parametrize(
    ("registered", "requested"),
    [
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/other"),  # another path
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb/"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/CB"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb?x=1"),  # another query
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb#frag"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.2:9090/cb"),  # another host, even a loopback one
        ("http://127.0.0.1:8080/cb", "http://[::1]:9090/cb"),
        ("http://127.0.0.1:8080/cb", "http://evil.example:9090/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1.evil.example:9090/cb"),
        ("http://127.0.0.1:8080/cb", "https://127.0.0.1:9090/cb"),  # https against http
        ("http://127.0.0.1:8080/cb", "https://127.0.0.1:8080/cb"),
        ("http://127.0.0.1:8080/cb", "HTTP://127.0.0.1:9090/cb"),
        ("http://127.0.0.1:8080/cb", "http://user@127.0.0.1:9090/cb"),  # a userinfo part
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090@evil.example/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1@evil.example/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:99999/cb"),  # not a port
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:0/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:09090/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:/cb"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:８０８１/cb"),  # digits of another script
        ("http://localhost:8080/cb", "http://localhost:9090/cb"),  # a name, not an IP literal: exact
        ("http://localhost:8080/cb", "http://127.0.0.1:8080/cb"),
        ("https://127.0.0.1:8443/cb", "https://127.0.0.1:9443/cb"),  # https keeps exact matching
        ("https://app.example:8443/cb", "https://app.example:8444/cb"),  # every other host too
        ("https://app.example:8443/cb", "https://app.example/cb"),
    ],
)
def test_what_a_loopback_port_does_not_loosen(
    client: FlaskClient, store: Store, registered: str, requested: str
) -> None:
    app = register_client(store, name="CLI", redirect_uris=(registered,))
    _, challenge = pkce_pair()
    response = client.get("/authorize?" + urlencode(authorize_params(app, challenge, redirect_uri=requested)))
    assert response.status_code == 400 and "Location" not in response.headers
    page = response.get_data(as_text=True)  # a URI beyond ASCII is refused before its client is even looked at
    assert "address it has not registered" in page or "characters that are not allowed" in page


def test_only_the_port_is_taken_out() -> None:
    assert without_port("http://127.0.0.1:65535/cb") == "http://127.0.0.1/cb"
    assert without_port("http://127.0.0.1/cb") == "http://127.0.0.1/cb"
    assert without_port("http://[::1]:1") == "http://[::1]"
    assert without_port("http://[::1]:1?x=%41") == "http://[::1]?x=%41"
    for uri in ("http://127.0.0.1:65536/cb", "http://localhost:8080/cb", "http://[::1]:8080\\@evil/cb", ""):
        assert without_port(uri) is None, uri


def test_every_client_gets_it_and_a_client_without_loopback_uris_matches_exactly(store: Store) -> None:
    mixed = OAuthClient(register_client(store, redirect_uris=("https://app.example/cb", "http://[::1]/cb")).record)
    assert mixed.check_redirect_uri("https://app.example/cb") and mixed.check_redirect_uri("http://[::1]:5000/cb")
    assert not mixed.check_redirect_uri("https://app.example:5000/cb")
    public = OAuthClient(register_client(store, public=True, redirect_uris=("http://127.0.0.1/cb",)).record)
    assert public.check_redirect_uri("http://127.0.0.1:5000/cb")
    remote = OAuthClient(register_client(store, redirect_uris=("https://app.example/cb",)).record)
    assert remote.check_redirect_uri("https://app.example/cb") and not remote.check_redirect_uri("http://127.0.0.1/cb")
