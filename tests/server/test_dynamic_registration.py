"""Client registration over HTTP: RFC 7591 (register) and RFC 7592 (read, update, delete), within the policy of
``TESSERA_REGISTRATION`` and ``TESSERA_REGISTRATION_SCOPES``."""

import time
from json import loads as json_loads
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from tessera.app import create_app
from tessera.server.dynamic import issue_initial_access_token
from tessera.store import ScopeRecord, Store
from tessera.store.models import initial_access_tokens, registrations
from tessera.tokens import digest
from tests.conftest import (
    ISSUER,
    REDIRECT_URI,
    MovableClock,
    RegisteredClient,
    app_for,
    exchange,
    get_code,
    pkce_pair,
    settings_for,
)

REGISTER = "/oauth/register"
METADATA = "/.well-known/oauth-authorization-server"


def _app(store: Store, url: str, clock: MovableClock | None = None, **env: str) -> Flask:
    app = create_app(settings_for(url, **env), store=store, clock=clock or time.time)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def open_client(store: Store, sqlite_url: str) -> FlaskClient:
    return app_for(store, sqlite_url, TESSERA_REGISTRATION="open").test_client()


def register(client: FlaskClient, body: Any, **headers: str) -> TestResponse:
    return client.post(REGISTER, json=body, headers=headers)


def _path(uri: str) -> str:
    assert uri.startswith(ISSUER + REGISTER + "?client_id=")
    return uri.removeprefix(ISSUER)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(response: TestResponse, error: str, words: str, status: int = 400) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == error
    assert words in body["error_description"]
    assert "\n" not in body["error_description"]


def test_off_by_default_no_endpoint_and_not_in_the_metadata(client: FlaskClient, store: Store) -> None:
    assert "registration_endpoint" not in client.get(METADATA).get_json()
    assert client.post(REGISTER, json={"redirect_uris": ["https://app.example/cb"]}).status_code == 404
    assert store.clients.all() == []


def test_open_registration_of_a_confidential_client(open_client: FlaskClient, store: Store, user: Any) -> None:
    assert open_client.get(METADATA).get_json()["registration_endpoint"] == ISSUER + REGISTER
    response = register(open_client, {"client_name": "Notes MCP", "redirect_uris": [REDIRECT_URI], "scope": "api"})
    assert response.status_code == 201, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["client_secret"].startswith("tsr_cs_") and body["client_secret_expires_at"] == 0
    assert abs(body["client_id_issued_at"] - time.time()) < 60
    assert body["registration_access_token"].startswith("tsr_ra_")
    assert body["registration_client_uri"] == f"{ISSUER}{REGISTER}?client_id={body['client_id']}"
    assert body["client_name"] == "Notes MCP" and body["redirect_uris"] == [REDIRECT_URI]
    assert body["grant_types"] == ["authorization_code", "refresh_token"] and body["response_types"] == ["code"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic" and body["scope"] == "api"

    # a client like any other: it signs a person in and gets tokens
    record = store.clients.get(body["client_id"])
    assert record is not None and not record.public and record.scope == "api"
    registered = RegisteredClient(body["client_id"], body["client_secret"], record)
    verifier, challenge = pkce_pair()
    tokens = exchange(open_client, registered, get_code(open_client, registered, challenge, scope="api"), verifier)
    assert tokens.status_code == 200 and tokens.get_json()["scope"] == "api"

    # only digests are stored
    with store.engine.connect() as conn:
        row = conn.execute(select(registrations)).one()
    assert row.token_digest == digest(body["registration_access_token"])
    assert body["registration_access_token"] not in repr(tuple(row))
    assert record.secret_digest == digest(body["client_secret"])


def test_public_client_has_no_secret_and_uses_pkce(open_client: FlaskClient, store: Store, user: Any) -> None:
    response = register(
        open_client, {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", "scope": "api"}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert body["client_name"] == "127.0.0.1"  # unnamed: the host of its first redirect URI
    record = store.clients.get(body["client_id"])
    assert record is not None and record.public
    registered = RegisteredClient(body["client_id"], None, record)
    verifier, challenge = pkce_pair()
    code = get_code(open_client, registered, challenge, scope="api")
    assert exchange(open_client, registered, code, verifier).status_code == 200


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/callback",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:53682/callback",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
        "com.example.app:/oauth2redirect",
    ],
)
def test_allowed_redirect_uris(open_client: FlaskClient, uri: str) -> None:
    response = register(open_client, {"redirect_uris": [uri]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["redirect_uris"] == [uri]


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://app.example/cb", "must be https://"),
        ("https://app.example/cb#top", "fragment"),
        ("https://*.example/cb", "host name"),
        ("https://app.example/cb/*", "https://app.example/cb/*"),
        ("javascript:alert(1)", "absolute http(s) URL"),
        ("data:text/html,hi", "absolute http(s) URL"),
        ("com.example.app://host/cb", "scheme:/path"),
        ("https://good.example@evil.example/cb", "no '@' there"),
        ("https://app.example\\@evil.example/cb", "backslash"),
        ("https://bücher.example/cb", "non-ASCII"),
        ("/relative/cb", "absolute"),
    ],
)
def test_refused_redirect_uris(open_client: FlaskClient, store: Store, uri: str, words: str) -> None:
    response = register(open_client, {"redirect_uris": [uri]})
    if uri.endswith("/*"):  # a wildcard in a path is only a character: it matches itself, exactly
        assert response.status_code == 201
        return
    _refused(response, "invalid_redirect_uri", words)
    assert store.clients.all() == []


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ({}, "invalid_client_metadata", "at least its redirect_uris"),
        ({"redirect_uris": []}, "invalid_redirect_uri", "at least one redirect URI"),
        ({"redirect_uris": "https://app.example/cb"}, "invalid_client_metadata", "must be an array"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata", "'client_credentials' cannot"),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata", "'implicit' cannot"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata", "must include authorization_code"),
        ({"grant_types": "authorization_code"}, "invalid_client_metadata", "must be an array"),
        ({"response_types": ["token"]}, "invalid_client_metadata", "response_types must be code"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "is not offered"),
        ({"scope": "restricted"}, "invalid_client_metadata", "none of the requested scopes"),
        ({"scope": ["api"]}, "invalid_client_metadata", "scope must be a string"),
        ({"client_name": "x" * 201}, "invalid_client_metadata", "client_name must be 1 to 200"),
        ({"client_name": "  "}, "invalid_client_metadata", "client_name must be"),
        ({"client_name": "tab\there"}, "invalid_client_metadata", "client_name must be"),
        ({"client_name": 5}, "invalid_client_metadata", "client_name must be a string"),
        ({"client_uri": 5}, "invalid_client_metadata", "client_uri must be a string"),
        ({"tos_uri": ["https://a.example/tos"]}, "invalid_client_metadata", "tos_uri must be a string"),
        ({"jwks": "x"}, "invalid_client_metadata", "jwks must be an object"),
        ({"jwks": {"keys": [{"kty": "nope"}]}}, "invalid_client_metadata", "jwks"),
        ({"contacts": 5}, "invalid_client_metadata", "contacts must be an array"),
        ({"logo_uri": "javascript:alert(1)"}, "invalid_client_metadata", "logo_uri"),
        ({"token_endpoint_auth_method": ["none"]}, "invalid_client_metadata", "must be a string"),
    ],
)
def test_policy_violations(
    open_client: FlaskClient, store: Store, body: dict[str, Any], error: str, words: str
) -> None:
    full = {"redirect_uris": ["https://app.example/cb"], **body} if "redirect_uris" not in body and body else body
    _refused(register(open_client, full), error, words)
    assert store.clients.all() == []


@pytest.mark.parametrize(
    ("data", "content_type", "error", "words"),
    [
        (b"[1, 2]", "application/json", "invalid_client_metadata", "must be a JSON object"),
        (b'"text"', "application/json", "invalid_client_metadata", "must be a JSON object"),
        (b"{not json", "application/json", "invalid_client_metadata", "not valid JSON"),
        (b"\xff\xfe", "application/json", "invalid_client_metadata", "not valid JSON"),
        (b"[" * 60_000, "application/json", "invalid_client_metadata", "not valid JSON"),
        (b"redirect_uris=https://a.example/cb", "application/x-www-form-urlencoded", "invalid_request", "json"),
    ],
)
def test_bodies_that_are_not_json_objects(
    open_client: FlaskClient, store: Store, data: bytes, content_type: str, error: str, words: str
) -> None:
    _refused(open_client.post(REGISTER, data=data, content_type=content_type), error, words)
    assert store.clients.all() == []


def test_oversized_body_is_413(open_client: FlaskClient, store: Store) -> None:
    body = {"redirect_uris": ["https://app.example/cb"], "client_name": "x", "contacts": ["a" * 70_000]}
    assert register(open_client, body).status_code == 413
    assert store.clients.all() == []


def test_odd_characters_in_an_echoed_value_never_make_a_500(open_client: FlaskClient) -> None:
    response = register(open_client, {"redirect_uris": ["https://app.example/cb"], "grant_types": ['"\\§é']})
    _refused(response, "invalid_client_metadata", "cannot be registered")


def test_scope_is_narrowed_to_the_policy_and_the_declared_scopes(store: Store, sqlite_url: str) -> None:
    store.scopes.create(ScopeRecord("restricted", "Restricted data", False, int(time.time())))
    store.scopes.create(ScopeRecord("admin", "Everything", False, int(time.time())))
    client = app_for(
        store, sqlite_url, TESSERA_REGISTRATION="open", TESSERA_REGISTRATION_SCOPES="api restricted mcp:read"
    ).test_client()
    uris = {"redirect_uris": ["https://app.example/cb"]}
    # mcp:read is in the policy but not declared here; admin is declared but not in the policy
    assert register(client, {**uris, "scope": "api admin mcp:read"}).get_json()["scope"] == "api"
    assert register(client, uris).get_json()["scope"] == "api restricted"
    _refused(register(client, {**uris, "scope": "admin"}), "invalid_client_metadata", "use api restricted")


def test_token_mode_needs_a_valid_initial_access_token(store: Store, sqlite_url: str) -> None:
    clock = MovableClock()
    client = _app(store, sqlite_url, clock, TESSERA_REGISTRATION="token").test_client()
    assert client.get(METADATA).get_json()["registration_endpoint"] == ISSUER + REGISTER
    body = {"redirect_uris": ["https://app.example/cb"]}
    _refused(register(client, body), "invalid_token", "initial access token", 401)
    _refused(register(client, body, Authorization="Bearer tsr_ia_nonsense"), "invalid_token", "not valid", 401)

    once, _ = issue_initial_access_token(store.registrations, uses=1, ttl=None, now=int(clock()))
    # a refused registration spends no use
    _refused(
        register(client, {"redirect_uris": ["http://app.example/cb"]}, **_bearer(once)), "invalid_redirect_uri", "https"
    )
    assert register(client, body, **_bearer(once)).status_code == 201
    _refused(register(client, body, **_bearer(once)), "invalid_token", "not valid", 401)

    hour, _ = issue_initial_access_token(store.registrations, uses=None, ttl=3600, now=int(clock()))
    assert register(client, body, **_bearer(hour)).status_code == 201
    assert register(client, body, **_bearer(hour)).status_code == 201
    clock.advance(3601)
    _refused(register(client, body, **_bearer(hour)), "invalid_token", "not valid", 401)
    assert len(store.clients.all()) == 3
    with store.engine.connect() as conn:
        stored = [row.digest for row in conn.execute(select(initial_access_tokens))]
    assert sorted(stored) == sorted([digest(once), digest(hour)])


def test_a_registration_access_token_of_another_kind_is_no_initial_access_token(store: Store, sqlite_url: str) -> None:
    client = app_for(store, sqlite_url, TESSERA_REGISTRATION="token").test_client()
    opened = app_for(store, sqlite_url, TESSERA_REGISTRATION="open").test_client()
    other = register(opened, {"redirect_uris": ["https://app.example/cb"]}).get_json()["registration_access_token"]
    _refused(
        register(client, {"redirect_uris": ["https://app.example/cb"]}, **_bearer(other)), "invalid_token", "", 401
    )


def test_registrations_are_rate_limited_per_address(store: Store, sqlite_url: str) -> None:
    client = app_for(
        store, sqlite_url, TESSERA_REGISTRATION="open", TESSERA_REGISTRATION_LIMIT="2/minute"
    ).test_client()
    body = {"redirect_uris": ["https://app.example/cb"]}
    here = {"REMOTE_ADDR": "192.0.2.1"}
    assert client.post(REGISTER, json=body, environ_base=here).status_code == 201
    assert client.post(REGISTER, json={"redirect_uris": []}, environ_base=here).status_code == 400  # counted too
    limited = client.post(REGISTER, json=body, environ_base=here)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert client.post(REGISTER, json=body, environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 201
    assert len(store.clients.all()) == 2


# RFC 7592


@pytest.fixture
def registered(open_client: FlaskClient) -> dict[str, Any]:
    body = {"client_name": "Notes", "redirect_uris": ["https://app.example/cb"], "scope": "api"}
    response = register(open_client, body)
    assert response.status_code == 201
    answer: dict[str, Any] = response.get_json()
    return answer


def test_read_answers_the_stored_metadata(open_client: FlaskClient, registered: dict[str, Any]) -> None:
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    response = open_client.get(path, headers=_bearer(token))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    expected = {k: v for k, v in registered.items() if k not in ("client_secret", "client_secret_expires_at")}
    assert body == expected
    assert "client_secret" not in body  # only its digest is kept


def test_update_replaces_the_metadata_within_the_policy(
    open_client: FlaskClient, store: Store, registered: dict[str, Any]
) -> None:
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    change = {
        "client_id": registered["client_id"],
        "client_name": "Notes 2",
        "redirect_uris": ["https://app.example/v2/cb"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    response = open_client.put(path, json=change, headers=_bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["client_name"] == "Notes 2" and body["redirect_uris"] == ["https://app.example/v2/cb"]
    assert body["token_endpoint_auth_method"] == "client_secret_post"
    assert open_client.get(path, headers=_bearer(token)).get_json() == body
    record = store.clients.get(registered["client_id"])
    assert record is not None and record.name == "Notes 2"

    refused = open_client.put(path, json={**change, "redirect_uris": ["http://app.example/cb"]}, headers=_bearer(token))
    _refused(refused, "invalid_redirect_uri", "must be https://")
    swap = open_client.put(path, json={**change, "token_endpoint_auth_method": "none"}, headers=_bearer(token))
    _refused(swap, "invalid_client_metadata", "cannot change between none and a secret")
    no_id = {k: v for k, v in change.items() if k != "client_id"}
    assert open_client.put(path, json=no_id, headers=_bearer(token)).get_json()["error"] == "invalid_request"
    record = store.clients.get(registered["client_id"])
    assert record is not None and record.redirect_uris == ("https://app.example/v2/cb",) and not record.public


def test_the_token_works_for_its_own_client_only(open_client: FlaskClient, registered: dict[str, Any]) -> None:
    other = register(open_client, {"redirect_uris": ["https://other.example/cb"]}).get_json()
    mine, theirs = _path(registered["registration_client_uri"]), _path(other["registration_client_uri"])
    token = registered["registration_access_token"]
    _refused(open_client.get(theirs, headers=_bearer(token)), "invalid_token", "not valid", 401)
    _refused(open_client.delete(theirs, headers=_bearer(token)), "invalid_token", "not valid", 401)
    _refused(open_client.get(mine), "invalid_token", "not valid", 401)
    _refused(open_client.get(mine, headers=_bearer(other["client_secret"])), "invalid_token", "not valid", 401)
    _refused(open_client.get(REGISTER, headers=_bearer(token)), "invalid_request", "registration_client_uri")
    assert open_client.get(theirs, headers=_bearer(other["registration_access_token"])).status_code == 200


def test_delete_removes_the_client_and_its_tokens(
    open_client: FlaskClient, store: Store, registered: dict[str, Any], user: Any
) -> None:
    record = store.clients.get(registered["client_id"])
    assert record is not None
    client = RegisteredClient(registered["client_id"], registered["client_secret"], record)
    verifier, challenge = pkce_pair()
    code = get_code(open_client, client, challenge, scope="api", redirect_uri="https://app.example/cb")
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/cb"}
    access = open_client.post("/oauth/token", data={**data, "code_verifier": verifier}, headers=client.basic)
    assert access.status_code == 200, access.get_json()

    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    response = open_client.delete(path, headers=_bearer(token))
    assert response.status_code == 204 and response.data == b""
    assert store.clients.get(registered["client_id"]) is None
    assert store.tokens.active(digest(access.get_json()["access_token"])) is None
    _refused(open_client.get(path, headers=_bearer(token)), "invalid_token", "not valid", 401)
    refused = open_client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": access.get_json()["refresh_token"]},
        headers=client.basic,
    )
    assert refused.status_code == 401


def test_a_client_deleted_by_the_operator_loses_its_registration(
    open_client: FlaskClient, store: Store, registered: dict[str, Any]
) -> None:
    store.clients.delete(registered["client_id"])
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    _refused(open_client.get(path, headers=_bearer(token)), "invalid_token", "not valid", 401)
    assert store.registrations.by_client(registered["client_id"]) is None


def test_a_native_app_with_a_private_use_scheme_gets_its_code_there(
    open_client: FlaskClient, store: Store, user: Any
) -> None:
    native = "com.example.notes:/oauth2redirect"
    body = register(open_client, {"redirect_uris": [native], "token_endpoint_auth_method": "none"}).get_json()
    assert body["client_name"] == "com.example.notes"  # unnamed, and no host: its scheme names it
    record = store.clients.get(body["client_id"])
    assert record is not None
    verifier, challenge = pkce_pair()
    code = get_code(
        open_client, RegisteredClient(record.client_id, None, record), challenge, scope="api", redirect_uri=native
    )
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": native, "code_verifier": verifier}
    tokens = open_client.post("/oauth/token", data={**data, "client_id": record.client_id})
    assert tokens.status_code == 200, tokens.get_json()


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address(store: Store, sqlite_url: str) -> None:
    client = app_for(
        store,
        sqlite_url,
        TESSERA_REGISTRATION="open",
        TESSERA_REGISTRATION_LIMIT="1/minute",
        TESSERA_TRUSTED_PROXIES="1",
    ).test_client()
    body = {"redirect_uris": ["https://app.example/cb"]}
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def forwarded(chain: str) -> int:
        return client.post(REGISTER, json=body, environ_base=proxy, headers={"X-Forwarded-For": chain}).status_code

    assert forwarded("192.0.2.1") == 201
    assert forwarded("192.0.2.2") == 201  # another client behind the same proxy
    assert forwarded("198.51.100.7, 192.0.2.1") == 429  # what the client wrote itself is not trusted
    assert len(store.clients.all()) == 2  # the refused one stored nothing


def test_methods_and_the_query_string(open_client: FlaskClient, registered: dict[str, Any]) -> None:
    allow = open_client.options(REGISTER).headers["Allow"]
    assert set(allow.split(", ")) == {"OPTIONS", "POST", "GET", "PUT", "DELETE", "HEAD"}
    assert open_client.patch(REGISTER, json={}).status_code == 405
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    head = open_client.head(path, headers=_bearer(token))
    assert head.status_code == 200 and head.data == b""
    response = open_client.post(path, json={"redirect_uris": ["https://app.example/cb"]})
    _refused(response, "invalid_request", "no query string")


def test_under_tessera_serve(store: Store, sqlite_url: str) -> None:
    """The same endpoint through the RSGI face ``tessera serve`` runs: JSON bodies, the query string, DELETE."""
    from tessera.app import build
    from tests.server.test_rsgi import Headers, Proto, Scope, _serve

    front = build(settings_for(sqlite_url, TESSERA_REGISTRATION="open"), store=store).rsgi(threads=2)
    body = b'{"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none"}'
    headers = Headers([("content-type", "application/json"), ("content-length", str(len(body)))])
    created = Proto(body=body)
    _serve(front, (Scope("POST", REGISTER, headers), created))
    assert created.status == 201 and created.answer is not None
    answer = json_loads(created.answer[2])
    client_id, token = answer["client_id"], answer["registration_access_token"]
    auth = Headers([("authorization", f"Bearer {token}")])
    read, deleted = Proto(), Proto()
    _serve(front, (Scope("GET", REGISTER, auth, query_string=f"client_id={client_id}"), read))
    assert read.status == 200 and read.answer is not None and json_loads(read.answer[2])["client_id"] == client_id
    _serve(front, (Scope("DELETE", REGISTER, auth, query_string=f"client_id={client_id}"), deleted))
    assert deleted.status == 204 and store.clients.get(client_id) is None


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"client_secret": 5}, "client_secret must be a string"),
        ({"client_secret": "tsr_cs_wrong"}, "not this client's secret"),
        ({"client_id": 5}, "own client_id"),
        ({"client_id": None}, "own client_id"),
        ({"client_id_issued_at": 1}, "must not send client_id_issued_at"),
        ({"registration_access_token": "x"}, "must not send registration_access_token"),
        ({"registration_client_uri": "x"}, "must not send registration_client_uri"),
    ],
)
def test_update_refusals_say_what_is_wrong_and_change_nothing(
    open_client: FlaskClient, store: Store, registered: dict[str, Any], extra: dict[str, Any], words: str
) -> None:
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    change = {"client_id": registered["client_id"], "client_name": "Changed", "redirect_uris": ["https://b.example/cb"]}
    _refused(open_client.put(path, json={**change, **extra}, headers=_bearer(token)), "invalid_request", words)
    record = store.clients.get(registered["client_id"])
    assert record is not None and record.name == "Notes"
    right = {**change, "client_secret": registered["client_secret"]}
    assert open_client.put(path, json=right, headers=_bearer(token)).get_json()["client_name"] == "Changed"


def test_registration_update_and_delete_are_audited(
    open_client: FlaskClient, store: Store, registered: dict[str, Any]
) -> None:
    client_id = registered["client_id"]
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    change = {
        "client_id": client_id,
        "client_name": "Notes 2",
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    assert open_client.put(path, json=change, headers=_bearer(token)).status_code == 200
    assert open_client.delete(path, headers=_bearer(token)).status_code == 204

    events = [(e.event, (e.detail or {}).get("via")) for e in reversed(store.audit.list(client_id=client_id))]
    assert events == [
        ("client.registered", "registration"),
        ("client.updated", "registration"),
        ("client.deleted", "registration"),
    ]
    assert registered["registration_access_token"] not in str(store.audit.list(client_id=client_id))


def test_post_logout_redirect_uris_follow_the_redirect_uri_policy(open_client: FlaskClient, store: Store) -> None:
    uris = ["https://app.example/bye", "http://127.0.0.1:9000/bye"]
    response = register(open_client, {"redirect_uris": ["https://app.example/cb"], "post_logout_redirect_uris": uris})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["post_logout_redirect_uris"] == uris
    record = store.clients.get(body["client_id"])
    assert record is not None and record.post_logout_redirect_uris == tuple(uris)
    path, token = _path(body["registration_client_uri"]), body["registration_access_token"]
    assert open_client.get(path, headers=_bearer(token)).get_json()["post_logout_redirect_uris"] == uris
    change = {"client_id": body["client_id"], "redirect_uris": ["https://app.example/cb"],
              "post_logout_redirect_uris": ["https://app.example/v2/bye"]}  # fmt: skip
    updated = open_client.put(path, json=change, headers=_bearer(token))
    assert updated.status_code == 200 and updated.get_json()["post_logout_redirect_uris"] == [
        "https://app.example/v2/bye"
    ]
    for bad, error, words in [
        (
            "http://app.example/bye",
            "invalid_redirect_uri",
            "post-logout redirect URI 'http://app.example/bye' must be https://",
        ),
        ("https://app.example/bye#x", "invalid_redirect_uri", "fragment"),
        ("javascript:alert(1)", "invalid_redirect_uri", "absolute http(s) URL"),
        ("https://good.example@evil.example/", "invalid_redirect_uri", "no '@' there"),
    ]:
        refused = register(open_client, {"redirect_uris": ["https://a.example/cb"], "post_logout_redirect_uris": [bad]})
        _refused(refused, error, words)
    not_a_list = register(open_client, {"redirect_uris": ["https://a.example/cb"], "post_logout_redirect_uris": "x"})
    _refused(not_a_list, "invalid_client_metadata", "post_logout_redirect_uris must be an array")
    not_strings = register(open_client, {"redirect_uris": ["https://a.example/cb"], "post_logout_redirect_uris": [5]})
    _refused(not_strings, "invalid_client_metadata", "post_logout_redirect_uris must be an array of strings")
    assert len(store.clients.all()) == 1
