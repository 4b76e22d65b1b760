"""The front that answers the machine routes before Flask: what it answers
itself (methods, framing, failures) and that everything else still reaches the Flask app."""

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tessera.errors import StoreError
from tessera.web.context import server_of
from tests.conftest import INTROSPECT, REVOKE, TOKEN, RegisteredClient, client_credentials_token

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("endpoint", [TOKEN, INTROSPECT, REVOKE])
def test_options_says_post(client: FlaskClient, endpoint: str) -> None:
    response = client.options(endpoint)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Allow"] == "OPTIONS, POST"


@pytest.mark.parametrize("length", ["ten", "-1", "+29", "2_9", "٢٩"])
def test_content_length_that_is_not_a_number_is_invalid_request(client: FlaskClient, length: str) -> None:
    response = client.post(
        TOKEN,
        data=b"grant_type=client_credentials",
        headers={"Content-Type": FORM},
        environ_overrides={"CONTENT_LENGTH": length},
    )
    assert response.status_code == 400 and response.json == {
        "error": "invalid_request",
        "error_description": "The Content-Length header is not a number.",
    }


def test_body_that_is_not_utf8_is_invalid_request(client: FlaskClient, service: RegisteredClient) -> None:
    response = client.post(INTROSPECT, data=b"token=\xff", headers={"Content-Type": FORM, **service.basic})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


def test_form_values_are_percent_decoded_as_utf8(client: FlaskClient, service: RegisteredClient) -> None:
    token = client_credentials_token(client, service)
    encoded = token.replace("_", "%5F")  # the same token, percent-encoded
    response = client.post(INTROSPECT, data=f"token={encoded}", headers={"Content-Type": FORM, **service.basic})
    assert response.json["active"] is True


def test_unexpected_failure_is_500_json_and_logged_once(
    app: Flask, client: FlaskClient, service: RegisteredClient, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(server_of(app).context.store.tokens, "active", broken)
    token = client_credentials_token(client, service)
    with caplog.at_level(logging.INFO):
        response = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
    assert response.status_code == 500
    assert response.json == {"error": "server_error", "error_description": "An unexpected error occurred."}
    assert response.headers["Cache-Control"] == "no-store"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None and "boom" not in response.get_data(as_text=True)
    access = [r.getMessage() for r in caplog.records if r.name == "tessera.access"]
    assert access == [f"request method=POST path={INTROSPECT} status=500 duration_ms={_ms(access[0])} "
                      f"client_id={service.client_id}"]  # fmt: skip
    assert token not in caplog.text


def test_storage_misconfiguration_is_500_server_error(
    app: Flask, client: FlaskClient, service: RegisteredClient, monkeypatch
) -> None:
    def misconfigured(*_: object) -> None:
        raise StoreError("the database has no Tessera schema: run `tessera db upgrade`")

    monkeypatch.setattr(server_of(app).context.store.tokens, "insert", misconfigured)
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=service.basic)
    assert response.status_code == 500 and response.json["error"] == "server_error"
    assert "upgrade" not in response.json["error_description"]  # the detail is for the log, not the client


def test_other_paths_still_reach_flask(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get(TOKEN + "/").status_code == 404  # only the exact paths are the adapter's
    assert client.get("/.well-known/oauth-authorization-server").json["token_endpoint"].endswith(TOKEN)


def _ms(line: str) -> str:
    return line.split("duration_ms=")[1].split()[0]
