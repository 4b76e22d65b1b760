"""With ``TESSERA_ENV=production`` and an https issuer, every response tells the browser to use https only for a
year (HSTS, RFC 6797): machine routes and pages, answers and refusals, through the WSGI face and the RSGI face
``tessera serve`` runs. Otherwise no response carries it (over plain http a browser would ignore it anyway, and a
development server must stay reachable over http)."""

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tessera.app import build, create_app
from tessera.config import Settings
from tessera.server.request import MAX_BODY
from tessera.store import Store
from tests.conftest import INTROSPECT, REVOKE, TOKEN, RegisteredClient, login, settings_for

HSTS = "max-age=31536000"


def _app(settings: Settings, store: Store, **env: str) -> Flask:
    app = create_app(settings_for(settings.database_url, **env), store=store)
    app.config["TESTING"] = True
    return app


def _every_kind_of_response(client: FlaskClient, service: RegisteredClient) -> dict[str, TestResponse]:
    """One response of each kind the server gives, by name."""
    form = {"grant_type": "client_credentials"}
    responses = {
        "token": client.post(TOKEN, data=form, headers=service.basic),
        "token refused": client.post(TOKEN, data=form),
        "introspection": client.post(INTROSPECT, data={"token": "x"}, headers=service.basic),
        "revocation": client.post(REVOKE, data={"token": "x"}, headers=service.basic),
        "body too large": client.post(
            TOKEN, data=b"x" * (MAX_BODY + 1), content_type="application/x-www-form-urlencoded"
        ),
        "metadata": client.get("/.well-known/oauth-authorization-server"),
        "openapi": client.get("/openapi.json"),
        "healthz": client.get("/healthz"),
        "options": client.options(TOKEN),
        "sign-in page": client.get("/login"),
        "error page": client.get("/authorize?client_id=nobody"),
        "not found": client.get("/no-such-page"),
        "stylesheet": client.get("/static/style.css"),
    }
    login(client)
    responses["signed-in page"] = client.get("/")
    responses["sign-out page"] = client.get("/logout")
    return responses


def test_production_over_https_sends_hsts_on_every_response(
    settings: Settings, store: Store, service: RegisteredClient, user: Any
) -> None:
    app = _app(settings, store, TESSERA_ENV="production", TESSERA_ISSUER="https://auth.example")
    responses = _every_kind_of_response(app.test_client(), service)
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses["token"] == 200 and statuses["token refused"] == 401 and statuses["body too large"] == 413
    assert statuses["not found"] == 404 and statuses["error page"] == 400, statuses
    for name, response in responses.items():
        assert response.headers.getlist("Strict-Transport-Security") == [HSTS], name
        response.close()


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"TESSERA_ISSUER": "https://auth.example"}, id="development-over-https"),
        pytest.param(
            {"TESSERA_ENV": "production", "TESSERA_ISSUER": "http://127.0.0.1:8000"}, id="production-loopback-http"
        ),
    ],
)
def test_no_hsts_otherwise(
    settings: Settings, store: Store, service: RegisteredClient, user: Any, env: dict[str, str]
) -> None:
    responses = _every_kind_of_response(_app(settings, store, **env).test_client(), service)
    for name, response in responses.items():
        assert "Strict-Transport-Security" not in response.headers, name
        response.close()


# the RSGI face, with the smallest stand-ins for an RSGI server's objects (tests/server/test_rsgi.py has the rest)


class _Headers(dict[str, str]):
    def items(self) -> Any:
        return list(super().items())


@dataclass
class _Scope:
    method: str
    path: str
    headers: _Headers
    query_string: str = ""
    client: str = "192.0.2.7:51000"
    server: str = "127.0.0.1:8000"
    scheme: str = "https"
    http_version: str = "1.1"


class _Proto:
    def __init__(self, body: bytes = b"") -> None:
        self.body = body
        self.answer: tuple[int, list[tuple[str, str]], bytes] | None = None

    async def __call__(self) -> bytes:
        return self.body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answer = (status, headers, body)


def test_tessera_serve_sends_hsts_in_production_over_https(settings: Settings, store: Store) -> None:
    built = build(
        settings_for(settings.database_url, TESSERA_ENV="production", TESSERA_ISSUER="https://auth.example"),
        store=store,
    )
    front = built.rsgi(threads=1)
    requests = {
        "healthz": (_Scope("GET", "/healthz", _Headers()), _Proto()),
        "sign-in page": (_Scope("GET", "/login", _Headers()), _Proto()),
        "body too large": (
            _Scope("POST", TOKEN, _Headers({"content-length": str(MAX_BODY + 1)})),
            _Proto(b"x" * (MAX_BODY + 1)),
        ),
    }

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        front.__rsgi_init__(loop)
        try:
            await asyncio.gather(*(front.__rsgi__(scope, proto) for scope, proto in requests.values()))
        finally:
            front.__rsgi_del__(loop)

    asyncio.run(serve())
    statuses = {}
    for name, (_, proto) in requests.items():
        assert proto.answer is not None, name
        status, headers, _ = proto.answer
        statuses[name] = status
        assert [v for k, v in headers if k.lower() == "strict-transport-security"] == [HSTS], name
    assert statuses == {"healthz": 200, "sign-in page": 200, "body too large": 413}
