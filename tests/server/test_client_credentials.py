"""Client credentials (RFC 6749 §4.4) and the token response (§5.1)."""

from flask.testing import FlaskClient

from tests.conftest import INTROSPECT, TOKEN, register_client


def test_issues_opaque_token_with_configured_lifetime(client: FlaskClient, service) -> None:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code == 200
    body = response.json
    assert body["access_token"].startswith("tsr_at_") and body["access_token"].count(".") == 0
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "api"
    assert "refresh_token" not in body
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"


def test_lifetime_comes_from_settings(store, tmp_path) -> None:
    from tessera.app import create_app
    from tessera.config import Settings

    settings = Settings.from_env({"TESSERA_DATABASE_URL": str(store.engine.url), "TESSERA_ACCESS_TOKEN_TTL": "120"})
    service = register_client(store, redirect_uris=(), grant_types=("client_credentials",), scope="api")
    app = create_app(settings, store=store)
    body = app.test_client().post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).json
    assert body["expires_in"] == 120


def test_client_secret_post_works(client: FlaskClient, service) -> None:
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": service.client_id, "client_secret": service.secret},
    )
    assert response.status_code == 200


def test_scope_is_narrowed_or_refused(client: FlaskClient, service) -> None:
    narrowed = client.post(
        TOKEN, data={"grant_type": "client_credentials", "scope": "api admin"}, headers=service.basic
    )
    assert narrowed.status_code == 200 and narrowed.json["scope"] == "api"
    refused = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "admin"}, headers=service.basic)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_scope"


def test_client_not_registered_for_the_grant(client: FlaskClient, web_client) -> None:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=web_client.basic)
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_password_grant_and_implicit_are_refused(client: FlaskClient, service) -> None:
    response = client.post(
        TOKEN, data={"grant_type": "password", "username": "alice", "password": "x"}, headers=service.basic
    )
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"


def test_wrong_secret_is_401(client: FlaskClient, service) -> None:
    import base64

    bad = {"Authorization": "Basic " + base64.b64encode(f"{service.client_id}:nope".encode()).decode()}
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=bad)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_token_introspects_with_client_as_subject(client: FlaskClient, service) -> None:
    token = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).json["access_token"]
    body = client.post(INTROSPECT, data={"token": token}, headers=service.basic).json
    assert body["active"] is True and body["sub"] == service.client_id and body["client_id"] == service.client_id
    assert "username" not in body


def test_deleted_client_cannot_get_tokens_even_if_cached(client: FlaskClient, store, service) -> None:
    assert client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).status_code == 200
    store.clients.delete(service.client_id)  # another process did it: this app still has the client cached
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
