"""Fuzzing the machine endpoints from their OpenAPI document with Schemathesis: valid and invalid requests,
with and without client credentials. No answer is a 5xx, every answer matches the document (status, headers,
body schema: e.g. every error is JSON with an ``error`` member and ``Cache-Control: no-store``, and an
inactive token introspects as exactly ``{"active": false}``).

The number of examples per operation is bounded (``TESSERA_FUZZ_EXAMPLES``, default 40) so the whole run
stays well under a minute; raise it locally for a deeper run.
"""

import os
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tessera.app.routes import advertised
from tessera.store import Store
from tests.conftest import INTROSPECT, REVOKE, TOKEN, RegisteredClient, app_for
from tests.device import DEVICE_GRANT, device_client, start

EXAMPLES = int(os.environ.get("TESSERA_FUZZ_EXAMPLES", "40"))


def test_the_document_is_served_and_names_the_real_endpoints(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://127.0.0.1:8000"}]
    endpoints = advertised()
    assert set(document["paths"]) == {
        endpoints["token_endpoint"],
        endpoints["introspection_endpoint"],
        endpoints["revocation_endpoint"],
        endpoints["device_authorization_endpoint"],
        "/.well-known/oauth-authorization-server",
    }
    schemathesis.openapi.from_dict(document)  # a valid OpenAPI document, or this raises


def test_registration_is_in_the_document_only_when_it_is_on(registration_app: Flask) -> None:
    document = registration_app.test_client().get("/openapi.json").get_json()
    register = advertised()["registration_endpoint"]
    assert register in document["paths"]
    assert set(document["paths"][register]) == {"post", "get", "put", "delete"}
    schemathesis.openapi.from_dict(document)


@pytest.fixture
def registration_app(sqlite_url: str, store: Store) -> Flask:
    return app_for(store, sqlite_url, TESSERA_REGISTRATION="open", TESSERA_REGISTRATION_LIMIT="off")


@schemathesis.check
def oauth_error_body(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx from a machine endpoint is a JSON object with a string ``error`` (RFC 6749 §5.2)."""
    if 400 <= response.status_code < 500:
        content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), response.headers
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body


def _fuzz(app: Flask, operation_id: str, headers: dict[str, str] | None, extra: list[dict[str, Any]]) -> int:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operation = next(
        op.ok() for op in schema.get_all_operations() if op.ok().definition.raw["operationId"] == operation_id
    )
    strategies = [operation.as_strategy(generation_mode=mode, headers=headers) for mode in GenerationMode]
    strategies += [operation.as_strategy(headers=headers, body=body) for body in extra]
    calls = 0

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        response = case.call_and_validate(
            additional_checks=[oauth_error_body],
            # a request can match the schema and still be refused for what it means (a made-up code, a grant
            # this client may not use): OAuth's answer to that is 400, which this check would call a failure
            excluded_checks=[positive_data_acceptance],
        )
        assert response.status_code < 500

    run()
    return calls


@pytest.fixture
def tokens(client: FlaskClient, service: RegisteredClient) -> dict[str, str]:
    issued = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic).get_json()
    return {"access": issued["access_token"]}


@pytest.mark.parametrize("operation_id", ["token", "introspect", "revoke", "device_authorization", "metadata"])
@pytest.mark.parametrize("authenticated", [True, False], ids=["client", "anonymous"])
def test_fuzz(
    app: Flask,
    service: RegisteredClient,
    tokens: dict[str, str],
    operation_id: str,
    authenticated: bool,
    client: FlaskClient,
    store: Store,
) -> None:
    extra: list[dict[str, str]] = []
    tv = device_client(store)
    if operation_id in ("introspect", "revoke"):
        extra = [{"token": tokens["access"]}, {"token": tokens["access"], "token_type_hint": "access_token"}]
    elif operation_id == "token":
        extra = [{"grant_type": "client_credentials"}, {"grant_type": "client_credentials", "scope": "api"}]
        polled = {"grant_type": DEVICE_GRANT, "device_code": start(client, tv)["device_code"]}
        extra += [polled, {**polled, "client_id": tv.client_id}]
    elif operation_id == "device_authorization":
        extra = [{"client_id": tv.client_id}, {"client_id": tv.client_id, "scope": "api"}]
    headers = service.basic if authenticated and operation_id != "metadata" else None
    assert _fuzz(app, operation_id, headers, extra) > 0


@pytest.mark.parametrize("operation_id", ["register", "read_client", "update_client", "delete_client"])
def test_fuzz_registration(registration_app: Flask, operation_id: str) -> None:
    """Open registration: whatever the body, query or token, a 2xx or an OAuth error, never a 500."""
    client = registration_app.test_client()
    registered = client.post(
        "/oauth/register", json={"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}
    ).get_json()
    headers = {"Authorization": "Bearer " + registered["registration_access_token"]}
    extra = [{"redirect_uris": ["https://app.example/cb"]}, {"client_id": registered["client_id"], "redirect_uris": []}]
    assert (
        _fuzz(registration_app, operation_id, headers, extra if operation_id in ("register", "update_client") else [])
        > 0
    )


# What the fuzzer found, pinned so it stays fixed.


@pytest.mark.parametrize("endpoint", [INTROSPECT, REVOKE])
def test_an_unknown_token_type_hint_is_400_not_401(
    client: FlaskClient, service: RegisteredClient, tokens: dict[str, str], endpoint: str
) -> None:
    """Authlib answered ``unsupported_token_type`` with 401 and a Basic challenge, to a client that had
    authenticated; RFC 6749 §5.2 keeps 401 for ``invalid_client``."""
    response = client.post(
        endpoint, data={"token": tokens["access"], "token_type_hint": "id_token"}, headers=service.basic
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_token_type"
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("endpoint", [INTROSPECT, REVOKE])
def test_an_empty_token_type_hint_counts_as_absent(
    client: FlaskClient, service: RegisteredClient, tokens: dict[str, str], endpoint: str
) -> None:
    response = client.post(endpoint, data={"token": tokens["access"], "token_type_hint": ""}, headers=service.basic)
    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_basic_for_one_client_and_client_id_of_another_is_refused(
    client: FlaskClient, service: RegisteredClient, web_client: RegisteredClient, tokens: dict[str, str], endpoint: str
) -> None:
    """Before, the body's client_id was silently ignored when HTTP Basic named another client."""
    body = {"grant_type": "client_credentials"} if endpoint == TOKEN else {"token": tokens["access"]}
    response = client.post(endpoint, data={**body, "client_id": web_client.client_id}, headers=service.basic)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    same = client.post(endpoint, data={**body, "client_id": service.client_id}, headers=service.basic)
    assert same.status_code == 200
