"""Authorization server metadata (RFC 8414) and the health checks."""

import logging

from flask.testing import FlaskClient

from tessera.app import create_app
from tessera.config import Settings
from tessera.store import Store, make_engine
from tests.conftest import ISSUER


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
    ]:
        assert meta[name] == ISSUER + path
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "none"}
    assert "client_secret_basic" in meta["introspection_endpoint_auth_methods_supported"]
    assert "client_secret_basic" in meta["revocation_endpoint_auth_methods_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["scopes_supported"] == ["api", "restricted"]


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
