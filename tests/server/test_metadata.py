"""Authorization server metadata (RFC 8414) and the health checks."""

import dataclasses
import logging

from flask.testing import FlaskClient

from tessera.app import build, create_app
from tessera.app.routes import advertised
from tessera.config import Settings
from tessera.server.metadata import Metadata
from tessera.server.scopes import create_scope, delete_scope
from tessera.store import Store, make_engine
from tests.conftest import ISSUER, register_client


def test_metadata_lists_what_the_contract_promises(client: FlaskClient, web_client, service) -> None:
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json
    assert meta["issuer"] == ISSUER
    for name, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("device_authorization_endpoint", "/oauth/device_authorization"),
    ]:
        assert meta[name] == ISSUER + path
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
    # RFC 8414 defines no auth-methods member for the device authorization endpoint (RFC 8628 §4)
    assert "device_authorization_endpoint_auth_methods_supported" not in meta
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    for endpoint in ("token", "introspection", "revocation"):
        assert {"client_secret_basic", "private_key_jwt"} <= set(meta[f"{endpoint}_endpoint_auth_methods_supported"])
        algorithms = set(meta[f"{endpoint}_endpoint_auth_signing_alg_values_supported"])
        assert {"ES256", "RS256"} <= algorithms and not {"none", "HS256"} & algorithms
    assert meta["authorization_response_iss_parameter_supported"] is True
    # declared on a new database; web_client's "restricted" is not
    assert meta["scopes_supported"] == ["api", "email", "openid", "profile"]


def test_scopes_supported_lists_exactly_the_declared_scopes_and_follows_a_change(
    settings: Settings, store: Store
) -> None:
    """Declared scopes, whether or not a client holds them; held ones that are not declared are not listed."""
    register_client(store, scope="api legacy")  # stored as it is, past the rules: "legacy" is not declared
    create_scope(store.scopes, "billing:read", "Read your invoices")
    app = create_app(dataclasses.replace(settings, client_cache_ttl=0), store=store)  # re-read on every request
    client = app.test_client()
    url = "/.well-known/oauth-authorization-server"
    assert client.get(url).json["scopes_supported"] == ["api", "billing:read", "email", "openid", "profile"]
    create_scope(store.scopes, "contacts", "See your contacts")
    delete_scope(store.scopes, "billing:read")
    assert client.get(url).json["scopes_supported"] == ["api", "contacts", "email", "openid", "profile"]


def test_the_scopes_are_read_at_most_once_per_refresh_and_the_document_rebuilt_only_on_a_change(
    settings: Settings, store: Store, monkeypatch
) -> None:
    """The cost of the metadata on a busy server: one read of the scope names every ``refresh`` seconds, the
    same bytes otherwise; a scope declared by another process (the CLI) shows once ``refresh`` has passed."""
    now = [100.0]
    reads: list[list[str]] = []
    names = store.scopes.names

    def counted() -> list[str]:
        reads.append(names())
        return reads[-1]

    monkeypatch.setattr(store.scopes, "names", counted)
    metadata = Metadata(build(settings, store=store).server, advertised(), refresh=5, clock=lambda: now[0])
    first = metadata.body()
    assert b'"scopes_supported":["api","email","openid","profile"]' in first and len(reads) == 1
    create_scope(store.scopes, "billing:read", "Read your invoices")
    now[0] += 4.9
    assert metadata.body() is first and len(reads) == 1  # within refresh: not read again
    now[0] += 0.1
    second = metadata.body()
    assert b'"scopes_supported":["api","billing:read","email","openid","profile"]' in second and len(reads) == 2
    now[0] += 5
    assert metadata.body() is second and len(reads) == 3  # read again, unchanged: the same bytes, not rebuilt
    create_scope(store.scopes, "contacts", "See your contacts")
    metadata.invalidate()  # a change made in this process shows at once
    assert b'"billing:read","contacts","email"' in metadata.body() and len(reads) == 4


def test_metadata_validates_with_authlib(client: FlaskClient) -> None:
    from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None
    AuthorizationServerMetadata(metadata).validate()


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    broken = Store(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"))
    app = create_app(settings, store=broken)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    response = client.post("/oauth/introspect", data={"token": "x"}, headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 503 and response.json["error"] == "temporarily_unavailable"


def test_one_log_line_per_request_without_credentials(client: FlaskClient, service, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=service.basic).json
    client.post("/oauth/introspect", data={"token": token["access_token"]}, headers=service.basic)
    lines = [r.getMessage() for r in caplog.records if r.name == "tessera.access"]
    assert len(lines) == 2
    assert "method=POST path=/oauth/token status=200" in lines[0] and f"client_id={service.client_id}" in lines[0]
    assert "duration_ms=" in lines[0]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert token["access_token"] not in everything and str(service.secret) not in everything
