"""RFC 7592 requests that meet a client changing under them, and registration requests that are malformed: each
gets a clean OAuth error, never a 500."""

from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.server.dynamic import ClientConfiguration
from tessera.store import Store
from tests.conftest import app_for
from tests.server.test_dynamic_registration import REGISTER, _bearer, _path, _refused


@pytest.fixture
def open_client(store: Store, sqlite_url: str) -> FlaskClient:
    return app_for(store, sqlite_url, TESSERA_REGISTRATION="open").test_client()


@pytest.fixture
def registered(open_client: FlaskClient) -> dict[str, Any]:
    body = {"client_name": "Notes", "redirect_uris": ["https://app.example/cb"], "scope": "api"}
    response = open_client.post(REGISTER, json=body)
    assert response.status_code == 201, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


@pytest.fixture
def deleted_meanwhile(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    """Another request (a DELETE on the client URI, or `tessera clients delete`) deletes the client just after
    this one has found it."""
    found = ClientConfiguration.authenticate_client

    def then_deleted(self: ClientConfiguration, request: Any) -> Any:
        client = found(self, request)
        if client is not None:
            store.clients.delete(client.client_id)
        return client

    monkeypatch.setattr(ClientConfiguration, "authenticate_client", then_deleted)


def test_an_update_racing_a_delete_is_told_the_token_is_gone(
    open_client: FlaskClient, store: Store, registered: dict[str, Any], deleted_meanwhile: None
) -> None:
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    change = {
        "client_id": registered["client_id"],
        "client_name": "Renamed",
        "redirect_uris": ["https://app.example/cb"],
    }
    _refused(open_client.put(path, json=change, headers=_bearer(token)), "invalid_token", "not valid", 401)
    assert store.clients.get(registered["client_id"]) is None


def test_a_delete_racing_a_delete_is_told_the_token_is_gone(
    open_client: FlaskClient, store: Store, registered: dict[str, Any], deleted_meanwhile: None
) -> None:
    path, token = _path(registered["registration_client_uri"]), registered["registration_access_token"]
    _refused(open_client.delete(path, headers=_bearer(token)), "invalid_token", "not valid", 401)
    assert store.clients.get(registered["client_id"]) is None


@pytest.mark.parametrize(
    ("metadata", "error", "words"),
    [
        ({"redirect_uris": [5]}, "invalid_client_metadata", "redirect_uris must be an array of strings"),
        (
            {"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", 5]},
            "invalid_client_metadata",
            "grant_types must be an array of strings",
        ),
        (
            {"redirect_uris": ["https://app.example/cb"], "response_types": [None]},
            "invalid_client_metadata",
            "response_types must be an array of strings",
        ),
    ],
)
def test_arrays_of_something_other_than_strings_are_refused(
    open_client: FlaskClient, store: Store, metadata: dict[str, Any], error: str, words: str
) -> None:
    _refused(open_client.post(REGISTER, json=metadata), error, words)
    assert store.clients.all() == []


def test_no_scope_to_offer_is_said_plainly(store: Store, sqlite_url: str) -> None:
    # the operator allowed only scopes that were never declared
    client = app_for(
        store, sqlite_url, TESSERA_REGISTRATION="open", TESSERA_REGISTRATION_SCOPES="undeclared"
    ).test_client()
    response = client.post(REGISTER, json={"redirect_uris": ["https://app.example/cb"]})
    _refused(response, "invalid_client_metadata", "no scope may be registered on this server")
    assert store.clients.all() == []
