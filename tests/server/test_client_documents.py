"""Client ID Metadata Documents: a client whose ``client_id`` is the URL of its own metadata, served here by a
document server on 127.0.0.1 (development mode), through the whole code flow; every document that cannot be
used; production's refusal of loopback and private addresses; the cache; the consent page; revocation."""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.app import create_app
from tessera.server.client_documents import FAILED_TTL, ClientDocumentError, cache_ttl, check_document_url
from tessera.store import Store
from tests.conftest import (
    INTROSPECT,
    TOKEN,
    MovableClock,
    app_for,
    csrf_from,
    login,
    pkce_pair,
    register_client,
    settings_for,
)
from tests.document_server import Answer, DocumentServer, tls_pair
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture, shared

REDIRECT = "http://127.0.0.1/callback"
#: the port the client listens on this time: any port of a loopback redirect URI matches (RFC 8252 §7.3)
CALLBACK = "http://127.0.0.1:53682/callback"


@pytest.fixture
def documents() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.stop()


@pytest.fixture
def app(sqlite_url: str, store: Store, clock: MovableClock) -> Flask:
    flask = create_app(settings_for(sqlite_url, TESSERA_CLIENT_ID_METADATA="on"), store=store, clock=clock)
    flask.config["TESTING"] = True
    return flask


def _document(url: str, **members: Any) -> dict[str, Any]:
    document = {
        "client_id": url,
        "client_name": "Notes Assistant",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid api",
    }
    document.update(members)
    return {name: value for name, value in document.items() if value is not None}


def _serve(documents: DocumentServer, path: str = "/client.json", **members: Any) -> str:
    url = documents.url(path)
    documents.serve_json(path, _document(url, **members))
    return url


def _authorize(
    client: FlaskClient, client_id: str, challenge: str = "x" * 43, environ_base: dict[str, str] | None = None,
    **extra: str,
) -> TestResponse:  # fmt: skip
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid api",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return client.get("/authorize?" + urlencode(params), environ_base=environ_base or {})


def _code(client: FlaskClient, client_id: str, challenge: str) -> tuple[str, str]:
    """Sign in, consent, and return (the consent page, the code)."""
    login(client)
    page = _authorize(client, client_id, challenge)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    params = parse_qs(urlsplit(page.request.url).query)
    url = "/authorize?" + urlencode({k: v[0] for k, v in params.items()})
    allowed = client.post(
        url, data={"csrf_token": csrf_from(html), "decision": "allow", "grant_scope": ["openid", "api"]}
    )
    assert allowed.status_code == 303, allowed.get_data(as_text=True)
    location = allowed.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return html, parse_qs(urlsplit(location).query)["code"][0]


def _token(client: FlaskClient, client_id: str, **data: str) -> TestResponse:
    return client.post(TOKEN, data={"client_id": client_id, **data})


def _introspect(client: FlaskClient, store: Store, token: str) -> dict[str, Any]:
    service = register_client(
        store, name="API", redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True
    )
    body: dict[str, Any] = client.post(INTROSPECT, data={"token": token}, headers=service.basic).get_json()
    return body


def _error_page(response: TestResponse) -> str:
    """The authorization endpoint's error page: 400, and no redirect anywhere."""
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "Location" not in response.headers
    return response.get_data(as_text=True)


def test_the_metadata_says_so_only_when_on(client: FlaskClient, sqlite_url: str, store: Store) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        assert client.get(path).get_json()["client_id_metadata_document_supported"] is True
    off = app_for(store, sqlite_url).test_client()
    assert "client_id_metadata_document_supported" not in off.get("/.well-known/oauth-authorization-server").get_json()


def test_the_whole_code_flow_with_a_client_known_only_by_its_document(
    client: FlaskClient,
    store: Store,
    user: Any,
    documents: DocumentServer,
    cli: Cli,  # noqa: F811
) -> None:
    url = _serve(documents)
    verifier, challenge = pkce_pair()
    page, code = _code(client, url, challenge)
    assert f"Authorize 127.0.0.1:{documents.port}" in page

    tokens = _token(
        client, url, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=verifier
    )
    assert tokens.status_code == 200, tokens.get_json()
    assert set(tokens.get_json()["scope"].split()) == {"openid", "api"}
    assert _introspect(client, store, tokens.get_json()["access_token"])["client_id"] == url

    refreshed = _token(client, url, grant_type="refresh_token", refresh_token=tokens.get_json()["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()

    # a client like any other: stored under its URL, audited, listed, revoked by it
    events = [(e["event"], e["detail"]) for e in cli.json("audit", "list", "--client", url)]
    assert ("client.registered", {"via": "metadata document", "name": "Notes Assistant", "method": "none"}) in events
    record = store.clients.get(url)
    assert record is not None and record.public and record.name == "Notes Assistant"
    assert record.redirect_uris == (REDIRECT,)
    assert url in [c["client_id"] for c in cli.json("clients", "list")]
    assert cli.ok("tokens", "revoke", "--client", url).stdout == "Revoked 1 token pair (access and refresh tokens).\n"
    assert _introspect(client, store, refreshed.get_json()["access_token"]) == {"active": False}
    again = _token(client, url, grant_type="refresh_token", refresh_token=refreshed.get_json()["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert documents.fetches == {"/client.json": 1}  # kept for a minute at least


def test_the_account_page_names_the_host_and_revokes_the_client(
    client: FlaskClient, user: Any, documents: DocumentServer
) -> None:
    url = _serve(documents, client_name="Google Drive")
    _code(client, url, pkce_pair()[1])
    host = f"127.0.0.1:{documents.port}"
    page = client.get("/account").get_data(as_text=True)
    assert f'<strong>{host}</strong> <span class="muted">(calls itself &ldquo;Google Drive&rdquo;)</span>' in page
    revoked = client.post(
        "/account", data={"csrf_token": csrf_from(page), "client_id": url}, follow_redirects=True
    ).get_data(as_text=True)
    assert f"{host} no longer has access to your account." in revoked


def test_an_https_document_on_127_0_0_1_as_mcp_clients_serve_it_in_development(
    sqlite_url: str,
    store: Store,
    user: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The official MCP SDK takes only an https:// client_metadata_url: served on 127.0.0.1 with a certificate
    from a test CA, which the server trusts through SSL_CERT_FILE."""
    server_tls, _, ca_pem = tls_pair("127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    documents = DocumentServer(tls=server_tls)
    try:
        url = _serve(documents)
        assert url.startswith("https://127.0.0.1:")
        client = app_for(store, sqlite_url, TESSERA_CLIENT_ID_METADATA="on").test_client()
        verifier, challenge = pkce_pair()
        _, code = _code(client, url, challenge)
        tokens = _token(
            client, url, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=verifier
        )
        assert tokens.status_code == 200, tokens.get_json()
    finally:
        documents.stop()


def test_the_client_is_public_and_must_use_pkce(client: FlaskClient, user: Any, documents: DocumentServer) -> None:
    url = _serve(documents)
    login(client)
    params = {"response_type": "code", "client_id": url, "redirect_uri": CALLBACK, "scope": "api", "state": "s"}
    refused = client.get("/authorize?" + urlencode(params))
    assert refused.status_code == 302
    assert parse_qs(urlsplit(refused.headers["Location"]).query)["error"] == ["invalid_request"]
    claims_secret = _token(client, url, grant_type="authorization_code", code="x", client_secret="guess")
    assert claims_secret.status_code == 401 and claims_secret.get_json()["error"] == "invalid_client"


def test_the_consent_page_puts_the_host_before_the_name_the_document_gives_itself(
    client: FlaskClient, user: Any, documents: DocumentServer
) -> None:
    url = _serve(documents, client_name="Google Drive")
    login(client)
    html = _authorize(client, url).get_data(as_text=True)
    host = f"127.0.0.1:{documents.port}"
    assert f"<h1>Authorize {host}</h1>" in html
    assert f'<strong class="host">{host}</strong> is asking for access' in html
    assert "It calls itself &ldquo;Google Drive&rdquo;" in html
    assert "Authorize Google Drive" not in html


def test_the_sign_in_page_names_the_host_too(client: FlaskClient, documents: DocumentServer) -> None:
    url = _serve(documents, client_name="Google Drive")
    to_login = _authorize(client, url)
    assert to_login.status_code == 302
    page = client.get(to_login.headers["Location"]).get_data(as_text=True)
    assert f"to continue to <strong>127.0.0.1:{documents.port}</strong>" in page


def _unusable(documents: DocumentServer, case: str) -> str:
    """Serve a document that cannot be used, in the way ``case`` names; its URL."""
    url = documents.url(f"/{case}.json")
    path = f"/{case}.json"
    if case == "another_client_id":
        documents.serve_json(path, _document(documents.url("/someone-else.json")))
    elif case == "no_redirect_uris":
        documents.serve_json(path, _document(url, redirect_uris=None))
    elif case == "too_big":
        documents.serve_json(path, _document(url, client_name="x" * 200, contacts=["a" * 100] * 60))
    elif case == "not_json":
        documents.answers[path] = Answer(b"<html>hello</html>")
    elif case == "not_an_object":
        documents.answers[path] = Answer(json.dumps([url]).encode())
    elif case == "text_plain":
        documents.answers[path] = Answer(json.dumps(_document(url)).encode(), headers={"Content-Type": "text/plain"})
    elif case == "redirects":
        documents.serve_json("/elsewhere.json", _document(url))
        documents.answers[path] = Answer(b"", 302, {"Location": documents.url("/elsewhere.json")})
    elif case == "missing":
        pass  # 404
    elif case == "slow":
        documents.answers[path] = Answer(json.dumps(_document(url)).encode(), drip=0.05)
    elif case == "has_a_secret":
        documents.serve_json(path, _document(url, client_secret="s3cret"))
    elif case == "confidential":
        documents.serve_json(path, _document(url, token_endpoint_auth_method="client_secret_basic"))
    elif case == "private_key_jwt":
        documents.serve_json(path, _document(url, token_endpoint_auth_method="private_key_jwt"))
    elif case == "client_credentials":
        documents.serve_json(path, _document(url, grant_types=["client_credentials"]))
    elif case == "plain_http_redirect":
        documents.serve_json(path, _document(url, redirect_uris=["http://evil.example/cb"]))
    elif case == "no_allowed_scope":
        documents.serve_json(path, _document(url, scope="admin"))
    else:  # pragma: no cover - a case the table below names must be served above
        raise AssertionError(case)
    return url


UNUSABLE = {
    "another_client_id": "its client_id is not the URL it was fetched from",
    "no_redirect_uris": "it breaks this server&#39;s policy for clients",
    "too_big": "it could not be fetched",
    "not_json": "it is not JSON",
    "not_an_object": "it is not a JSON object",
    "text_plain": "it is not served as application/json",
    "redirects": "it could not be fetched",
    "missing": "it could not be fetched",
    "slow": "it could not be fetched",
    "has_a_secret": "it holds a client secret",
    "confidential": "its token_endpoint_auth_method must be &#39;none&#39;",
    "private_key_jwt": "its token_endpoint_auth_method must be &#39;none&#39;",
    "client_credentials": "it breaks this server&#39;s policy for clients",
    "plain_http_redirect": "it breaks this server&#39;s policy for clients",
    "no_allowed_scope": "it breaks this server&#39;s policy for clients",
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_a_document_that_cannot_be_used_is_an_error_page_and_invalid_client_never_a_redirect(
    client: FlaskClient, store: Store, user: Any, documents: DocumentServer, case: str
) -> None:
    url = _unusable(documents, case)
    login(client)
    page = _error_page(_authorize(client, url))
    assert "The application&#39;s metadata document (its &#39;client_id&#39;) cannot be used: " in page
    assert UNUSABLE[case] in page
    token = _token(client, url, grant_type="authorization_code", code="tsr_ac_x", code_verifier="v" * 43)
    assert token.status_code == 401, token.get_json()
    assert token.get_json()["error"] == "invalid_client"
    assert token.get_json()["error_description"].startswith("The client's metadata document cannot be used: ")
    assert store.clients.get(url) is None  # nothing stored


def test_the_refusal_at_the_token_endpoint_says_what_the_document_got_wrong(
    client: FlaskClient, documents: DocumentServer
) -> None:
    url = _unusable(documents, "redirects")
    described = _token(client, url, grant_type="refresh_token", refresh_token="tsr_rt_x").get_json()
    assert described["error_description"] == (
        "The client's metadata document cannot be used: it could not be fetched "
        "(the document answered a redirect (HTTP 302), which is not followed)."
    )
    assert documents.fetches.get("/elsewhere.json") is None


def test_a_redirect_uri_the_document_does_not_list_is_an_error_page(
    client: FlaskClient, user: Any, documents: DocumentServer
) -> None:
    url = _serve(documents, redirect_uris=["https://app.example/cb"])
    login(client)
    page = _error_page(_authorize(client, url))
    assert "an address it has not registered" in page


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://app.example", "must have a path"),
        ("https://app.example/", "must have a path"),
        ("https://app.example/a/../client.json", "without '.' or '..' segments"),
        ("https://app.example/./client.json", "without '.' or '..' segments"),
        ("https://app.example/client.json?v=1", "must have no query"),
        ("https://app.example/client.json#x", "not a URL this server reads"),
        ("https://me@app.example/client.json", "not a URL this server reads"),
        ("https://app.example\\@evil.example/c", "not a URL this server reads"),
        ("http://app.example/client.json", "must be https://"),
        ("https://app.example/" + "c" * 240, "longer than 255 characters"),
    ],
)
def test_urls_that_cannot_name_a_document(url: str, reason: str) -> None:
    with pytest.raises(ClientDocumentError) as refused:
        check_document_url(url, production=False)
    assert reason in refused.value.reason


def test_loopback_http_only_in_development() -> None:
    check_document_url("http://127.0.0.1:8080/client.json", production=False)
    check_document_url("http://localhost:8080/client.json", production=False)
    check_document_url("https://app.example/client.json", production=True)
    with pytest.raises(ClientDocumentError, match="must be https://"):
        check_document_url("http://127.0.0.1:8080/client.json", production=True)


def test_production_refuses_documents_on_loopback_or_private_addresses(
    sqlite_url: str, store: Store, documents: DocumentServer
) -> None:
    flask = app_for(
        store,
        sqlite_url,
        TESSERA_ENV="production",
        TESSERA_ISSUER="https://auth.example",
        TESSERA_CLIENT_ID_METADATA="on",
    )
    client = flask.test_client()
    for url in (
        f"https://127.0.0.1:{documents.port}/client.json",
        f"https://localhost:{documents.port}/client.json",
        f"https://[::1]:{documents.port}/client.json",
        "https://10.0.0.1/client.json",
        "https://169.254.169.254/latest/meta-data.json",
    ):
        page = _error_page(_authorize(client, url))
        assert "it could not be fetched" in page, url
        refused = _token(client, url, grant_type="refresh_token", refresh_token="tsr_rt_x").get_json()
        assert refused["error"] == "invalid_client"
        assert "private, loopback or link-local address" in refused["error_description"], url
    plain = _token(client, documents.url("/client.json"), grant_type="refresh_token", refresh_token="tsr_rt_x")
    assert "must be https://" in plain.get_json()["error_description"]
    assert documents.fetches == {} and documents.hosts == []  # nothing was sent


def test_off_by_default_a_url_is_no_client_even_with_a_row(
    sqlite_url: str, store: Store, user: Any, documents: DocumentServer
) -> None:
    on = app_for(store, sqlite_url, TESSERA_CLIENT_ID_METADATA="on").test_client()
    url = _serve(documents)
    login(on)
    assert _authorize(on, url).status_code == 200
    assert store.clients.get(url) is not None  # the row stays, but is not trusted alone
    off = app_for(store, sqlite_url).test_client()
    login(off)
    assert "is not registered with this server" in _error_page(_authorize(off, url))
    assert documents.fetches == {"/client.json": 1}


def test_the_document_is_kept_as_its_cache_control_says_within_a_minute_and_a_day(
    client: FlaskClient, store: Store, user: Any, documents: DocumentServer, clock: MovableClock
) -> None:
    login(client)
    url = documents.url("/client.json")

    def serve(redirect: str, cache_control: str) -> None:
        documents.serve_json("/client.json", _document(url, redirect_uris=[redirect]), Cache_Control=cache_control)

    serve(REDIRECT, "max-age=600")
    assert _authorize(client, url).status_code == 200
    serve("http://127.0.0.1/other", "max-age=600")
    clock.advance(590)
    assert _authorize(client, url).status_code == 200  # still the copy: the old redirect URI
    assert documents.fetches["/client.json"] == 1
    clock.advance(20)
    assert "an address it has not registered" in _error_page(_authorize(client, url))
    assert documents.fetches["/client.json"] == 2
    assert store.clients.get(url).redirect_uris == ("http://127.0.0.1/other",)  # type: ignore[union-attr]

    serve(REDIRECT, "no-store")  # a minute, the floor
    clock.advance(601)
    assert _authorize(client, url).status_code == 200
    clock.advance(30)
    _authorize(client, url)
    assert documents.fetches["/client.json"] == 3
    clock.advance(31)
    _authorize(client, url)
    assert documents.fetches["/client.json"] == 4

    serve(REDIRECT, "public, max-age=31536000")  # a day, the ceiling
    clock.advance(61)
    _authorize(client, url)
    assert documents.fetches["/client.json"] == 5
    clock.advance(86_000)
    _authorize(client, url)
    assert documents.fetches["/client.json"] == 5
    clock.advance(401)
    _authorize(client, url)
    assert documents.fetches["/client.json"] == 6


def test_a_failed_fetch_refuses_the_client_even_with_a_copy_due_for_renewal(
    client: FlaskClient, user: Any, documents: DocumentServer, clock: MovableClock
) -> None:
    url = _serve(documents)
    login(client)
    assert _authorize(client, url).status_code == 200
    documents.answers["/client.json"] = Answer(b"oops", 500, {"Content-Type": "text/plain"})
    clock.advance(30)
    assert _authorize(client, url).status_code == 200  # the copy is still fresh
    clock.advance(31)
    assert "it could not be fetched" in _error_page(_authorize(client, url))
    _serve(documents)
    clock.advance(FAILED_TTL + 1)
    assert _authorize(client, url).status_code == 200  # and back once it can be read


def test_a_document_that_could_not_be_used_is_not_fetched_again_for_a_while(
    client: FlaskClient, user: Any, documents: DocumentServer, clock: MovableClock
) -> None:
    """Naming a bad URL again and again costs one fetch per :data:`FAILED_TTL` seconds, not one per request."""
    url = documents.url("/client.json")
    documents.answers["/client.json"] = Answer(b"oops", 500, {"Content-Type": "text/plain"})
    login(client)
    for _ in range(3):
        assert "it could not be fetched" in _error_page(_authorize(client, url))
    refused = _token(client, url, grant_type="refresh_token", refresh_token="tsr_rt_x")
    assert refused.status_code == 401 and "it could not be fetched" in refused.get_json()["error_description"]
    assert documents.fetches == {"/client.json": 1}
    _serve(documents)
    clock.advance(FAILED_TTL - 1)
    _error_page(_authorize(client, url))
    assert documents.fetches == {"/client.json": 1}
    clock.advance(2)
    assert _authorize(client, url).status_code == 200
    assert documents.fetches == {"/client.json": 2}


def test_new_documents_fetched_for_one_address_are_rate_limited(
    sqlite_url: str, store: Store, user: Any, documents: DocumentServer, clock: MovableClock
) -> None:
    """Anyone may name any URL: an address that names too many new ones gets 429 and no fetch, while documents
    the server holds, and other addresses, go on working."""
    settings = settings_for(sqlite_url, TESSERA_CLIENT_ID_METADATA="on", TESSERA_CLIENT_DOCUMENT_LIMIT="2/minute")
    flask = create_app(settings, store=store, clock=clock)
    client = flask.test_client()
    login(client)
    known = _serve(documents, "/known.json")
    assert _authorize(client, known).status_code == 200
    assert "it could not be fetched" in _error_page(_authorize(client, documents.url("/missing.json")))
    limited = _authorize(client, _serve(documents, "/third.json"))
    assert limited.status_code == 429 and "Location" not in limited.headers
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "too many new metadata documents" in limited.get_data(as_text=True)
    assert "/third.json" not in documents.fetches
    clock.advance(61)  # the kept copy is due: fetched again, and not counted
    assert _authorize(client, known).status_code == 200
    assert documents.fetches["/known.json"] == 2
    elsewhere = _authorize(client, documents.url("/third.json"), environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 200
    assert documents.fetches["/third.json"] == 1


def test_a_client_deleted_elsewhere_is_stored_again_from_the_copy_at_its_next_use(
    client: FlaskClient,
    store: Store,
    user: Any,
    documents: DocumentServer,
    cli: Cli,  # noqa: F811
    clock: MovableClock,
) -> None:
    """Another process (the CLI) deleted the row: within the client cache's few seconds the server reads it
    again, as it would any client's, and stores it again from the document it holds."""
    url = _serve(documents)
    verifier, challenge = pkce_pair()
    _code(client, url, challenge)
    cli.ok("clients", "delete", url)
    assert store.clients.get(url) is None
    clock.advance(6)
    _, code = _code(client, url, challenge)  # asked again: the consent went with the client
    tokens = _token(
        client, url, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=verifier
    )
    assert tokens.status_code == 200, tokens.get_json()
    assert documents.fetches == {"/client.json": 1}


def test_scope_is_narrowed_to_the_registration_policy(
    client: FlaskClient, store: Store, user: Any, documents: DocumentServer
) -> None:
    url = _serve(documents, scope="api admin")
    login(client)
    assert _authorize(client, url, scope="api").status_code == 200
    assert store.clients.get(url).scope == "api"  # type: ignore[union-attr]
    unnamed = _serve(documents, "/unnamed.json", client_name=None, scope=None)
    _authorize(client, unnamed)
    record = store.clients.get(unnamed)
    assert record is not None and record.name == f"127.0.0.1:{documents.port}"
    assert record.scope == "openid profile email api"


def test_cache_ttl() -> None:
    assert cache_ttl("max-age=600") == 600
    assert cache_ttl("public, max-age=120, must-revalidate") == 120
    assert cache_ttl('max-age="300"') == 300
    assert cache_ttl("max-age=10") == 60
    assert cache_ttl("max-age=9999999") == 86_400
    assert cache_ttl("no-cache") == 60
    assert cache_ttl("no-store, max-age=3600") == 60
    assert cache_ttl("s-maxage=3600") == 60
    assert cache_ttl("") == 60
