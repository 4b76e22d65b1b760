"""The examples in ``examples/`` do what their docstrings and the README say, against the real server (in
process: their introspection goes to the server's WSGI app)."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples import fastapi_api, flask_api
from tessera.resource import IntrospectionSource, ResourceMetadata, TokenCache, TokenValidator
from tessera.store import ResourceRecord, Store
from tests.conftest import ISSUER, TOKEN, RegisteredClient, register_client
from tests.resource.test_fastapi import ASGIClient


@pytest.fixture
def validator(app: Flask, store: Store) -> Iterator[TokenValidator]:
    api = register_client(store, name="Example API", redirect_uris=(), grant_types=("client_credentials",),
                          scope="api", introspect=True)  # fmt: skip
    assert api.secret is not None
    source = IntrospectionSource(ISSUER, api.client_id, api.secret, transport=httpx.WSGITransport(app=app))
    yield TokenValidator(TokenCache(source, ttl=60), realm="example")
    source.close()


def _token(client: FlaskClient, store: Store, scope: str) -> tuple[str, RegisteredClient]:
    caller = register_client(store, name="Caller", redirect_uris=(), grant_types=("client_credentials",),
                             scope="api billing:read")  # fmt: skip
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": scope}, headers=caller.basic)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["access_token"]), caller


def _check(get: Any, token: str, caller: RegisteredClient) -> None:
    ok = get("/api/data", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == {"message": "Protected API data.", "for": caller.client_id}
    short = get("/api/billing", headers={"Authorization": f"Bearer {token}"})
    assert short.status_code == 403 and 'error="insufficient_scope"' in short.headers["WWW-Authenticate"]
    missing = get("/api/data")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="example"'


def test_the_flask_example(client: FlaskClient, store: Store, validator: TokenValidator) -> None:
    token, caller = _token(client, store, "api")
    api = flask_api.create_app(validator).test_client()

    def get(path: str, headers: dict[str, str] | None = None) -> Any:
        # read as httpx's responses are, so that one check serves both frameworks
        response = api.get(path, headers=headers or {})
        return httpx.Response(response.status_code, headers=list(response.headers.items()), content=response.data)

    _check(get, token, caller)


def test_the_fastapi_example(client: FlaskClient, store: Store, validator: TokenValidator) -> None:
    token, caller = _token(client, store, "api")
    api = ASGIClient(fastapi_api.create_app(validator))
    _check(api.get, token, caller)
    both, _ = _token(client, store, "api billing:read")
    answer = api.get("/api/billing", headers={"Authorization": f"Bearer {both}"})
    assert answer.status_code == 200 and answer.json() == {"message": "Invoices.", "scope": "api billing:read"}


def test_the_examples_build_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_ISSUER", ISSUER)
    monkeypatch.setenv("API_CLIENT_ID", "example")
    monkeypatch.setenv("API_CLIENT_SECRET", "secret")
    monkeypatch.delenv("TESSERA_REDIS_URL", raising=False)
    monkeypatch.delenv("API_RESOURCE", raising=False)
    assert isinstance(flask_api.from_environment(), Flask)
    assert fastapi_api.from_environment().title == "FastAPI"


def test_with_api_resource_the_examples_say_where_tokens_come_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_ISSUER", ISSUER)
    monkeypatch.setenv("API_CLIENT_ID", "example")
    monkeypatch.setenv("API_CLIENT_SECRET", "secret")
    monkeypatch.delenv("TESSERA_REDIS_URL", raising=False)
    monkeypatch.setenv("API_RESOURCE", "http://127.0.0.1:8001/")
    document = {
        "resource": "http://127.0.0.1:8001/",
        "authorization_servers": [ISSUER],
        "scopes_supported": ["api", "billing:read"],
        "bearer_methods_supported": ["header"],
    }
    where = 'resource_metadata="http://127.0.0.1:8001/.well-known/oauth-protected-resource"'
    flask = flask_api.from_environment().test_client()
    assert flask.get("/.well-known/oauth-protected-resource").json == document
    assert (
        flask.get("/api/billing").headers["WWW-Authenticate"]
        == f'Bearer realm="example", scope="api billing:read", {where}'
    )
    fastapi = ASGIClient(fastapi_api.from_environment())
    assert fastapi.get("/.well-known/oauth-protected-resource").json() == document
    assert fastapi.get("/api/data").headers["WWW-Authenticate"] == f'Bearer realm="example", scope="api", {where}'


def test_the_examples_with_metadata_still_let_a_good_token_through(
    client: FlaskClient, store: Store, validator: TokenValidator
) -> None:
    token, caller = _token(client, store, "api")
    metadata = ResourceMetadata("http://127.0.0.1:8001/", [ISSUER], ["api"])
    api = ASGIClient(fastapi_api.create_app(validator, metadata=metadata))
    answer = api.get("/api/data", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["for"] == caller.client_id
    short = api.get("/api/billing", headers={"Authorization": f"Bearer {token}"})
    assert short.status_code == 403 and "resource_metadata=" in short.headers["WWW-Authenticate"]
    flask = flask_api.create_app(validator, metadata).test_client()
    assert flask.get("/api/data", headers={"Authorization": f"Bearer {token}"}).status_code == 200


class _Hosts(httpx.BaseTransport):
    """The authorization server and the example API, each a WSGI app, by host name."""

    def __init__(self, **apps: Any) -> None:
        self._transports = {host: httpx.WSGITransport(app=app) for host, app in apps.items()}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transports[request.url.host].handle_request(request)


@pytest.fixture
def device_world(app: Flask, store: Store, validator: TokenValidator) -> Any:
    from tests.device import device_client

    tv = device_client(store, scope="api")
    api = flask_api.create_app(validator)
    return tv, httpx.Client(transport=_Hosts(**{"127.0.0.1": app, "api.example": api}))


def test_the_device_login_example_signs_in_and_calls_the_api(
    app: Flask, device_world: Any, user: Any, clock: Any
) -> None:
    from examples import device_login
    from tests.device import answer

    tv, http = device_world
    said: list[str] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the person enters the code while the device waits the first time
        waits.append(seconds)
        clock.advance(seconds)
        if len(waits) == 2:
            user_code = said[0].rsplit(" ", 1)[1]
            answer(app.test_client(), user_code)

    token = device_login.device_login(http, ISSUER, tv.client_id, say=said.append, sleep=sleep)
    assert said[0].startswith(f"Open {ISSUER}/device and enter the code ")
    assert waits == [5, 5] and token["scope"] == "api"
    response = device_login.call_api(http, "http://api.example/api/data", token["access_token"])
    assert response.status_code == 200 and response.json()["message"] == "Protected API data."


def test_the_device_login_example_says_in_one_line_when_it_is_denied(
    app: Flask, device_world: Any, user: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from examples import device_login
    from tests.device import answer

    tv, http = device_world

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        user_code = capsys.readouterr().out.splitlines()[0].rsplit(" ", 1)[1]
        answer(app.test_client(), user_code, decision="deny")

    monkeypatch.setattr("time.sleep", sleep)
    assert device_login.main(["--client-id", tv.client_id, "--issuer", ISSUER], http=http) == 1
    assert capsys.readouterr().err == "The sign-in was denied.\n"


def test_the_mcp_example_serves_its_metadata_and_refuses_what_it_cannot_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's client and every request run in tests/clients/test_mcp_sdk.py; here, in process, what that run
    cannot show: while introspection fails, a call is a 503 to retry, never a 401 that would send the client to
    sign in again, nor a 500; two tokens in one request are refused before the SDK (which reads the first alone)
    could let a tool run without the Guard's scope check; a body over the limit is 413."""
    pytest.importorskip("mcp", reason="the mcp extra is not installed")
    import anyio

    from examples.mcp import server
    from tessera.tokens import TokenKind, mint

    monkeypatch.setenv("TESSERA_ISSUER", ISSUER)
    monkeypatch.setenv("MCP_CLIENT_ID", "mcp-server")
    monkeypatch.setenv("MCP_CLIENT_SECRET", "secret")
    monkeypatch.delenv("MCP_RESOURCE", raising=False)
    monkeypatch.delenv("TESSERA_REDIS_URL", raising=False)
    down = IntrospectionSource(ISSUER, "mcp-server", "secret", endpoint=f"{ISSUER}/oauth/introspect",
                               transport=httpx.MockTransport(lambda request: httpx.Response(502)))  # fmt: skip
    validator = TokenValidator(TokenCache(down), realm="mcp", audience="http://127.0.0.1:8001/mcp")
    built = server.from_environment()  # as the README runs it: its metadata
    app = server.create_app(validator, built.metadata)  # the same, its token source down
    small = server.Guard(app.app, validator, built.metadata, path="/mcp", max_body=100)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_invoices", "arguments": {}}}
    bearer = f"Bearer {mint(TokenKind.ACCESS)}"
    base_url = "http://127.0.0.1:8001"

    async def post(to: Any, json: Any, headers: list[tuple[str, str]]) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=to), base_url=base_url) as http:
            return await http.post("/mcp", json=json, headers=headers)

    async def get_document() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=built), base_url=base_url) as http:
            return await http.get("/.well-known/oauth-protected-resource/mcp")

    assert anyio.run(get_document).json() == {
        "resource": "http://127.0.0.1:8001/mcp", "authorization_servers": [ISSUER],
        "scopes_supported": ["mcp", "billing:read"], "bearer_methods_supported": ["header"],
    }  # fmt: skip
    called = anyio.run(post, app, call, [("Authorization", bearer)])
    assert called.status_code == 503 and called.headers["Retry-After"] == "1"
    assert called.json()["error"] == "temporarily_unavailable"
    twice = anyio.run(post, app, call, [("Authorization", bearer), ("Authorization", bearer)])
    assert twice.status_code == 401 and twice.json()["error_description"] == "The request carries more than one token."
    assert (
        'resource_metadata="http://127.0.0.1:8001/.well-known/oauth-protected-resource/mcp"'
        in (twice.headers["WWW-Authenticate"])
    )
    big = anyio.run(post, small, {**call, "padding": "x" * 200}, [("Authorization", bearer)])
    assert big.status_code == 413 and big.json()["error"] == "invalid_request"
    down.close()


@pytest.mark.parametrize("example", ["flask", "fastapi"])
def test_with_api_resource_the_examples_accept_only_tokens_issued_for_it(
    example: str, app: Flask, client: FlaskClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = register_client(store, name="Example API", redirect_uris=(), grant_types=("client_credentials",),
                          scope="api", introspect=True)  # fmt: skip
    assert api.secret is not None
    store.resources.create(ResourceRecord("http://127.0.0.1:8001/", "Example API", None, int(time.time())))
    store.resources.create(ResourceRecord("http://127.0.0.1:8009/", "Another API", None, int(time.time())))
    monkeypatch.setenv("TESSERA_ISSUER", ISSUER)
    monkeypatch.setenv("API_CLIENT_ID", api.client_id)
    monkeypatch.setenv("API_CLIENT_SECRET", api.secret)
    monkeypatch.delenv("TESSERA_REDIS_URL", raising=False)
    monkeypatch.delenv("API_INTROSPECTION_ENDPOINT", raising=False)
    monkeypatch.setenv("API_RESOURCE", "http://127.0.0.1:8001/")
    module: Any = flask_api if example == "flask" else fastapi_api
    # the example's introspection reaches the server in process
    wsgi = httpx.WSGITransport(app=app)
    monkeypatch.setattr(
        module, "IntrospectionSource", lambda *args, **kw: IntrospectionSource(*args, **kw, transport=wsgi)
    )
    built = module.from_environment()
    get = built.test_client().get if example == "flask" else ASGIClient(built).get
    caller = register_client(store, name="Caller", redirect_uris=(), grant_types=("client_credentials",),
                             scope="api")  # fmt: skip

    def token(*resource: str) -> str:
        form = {"grant_type": "client_credentials", "scope": "api", **({"resource": resource[0]} if resource else {})}
        response = client.post(TOKEN, data=form, headers=caller.basic)
        assert response.status_code == 200, response.get_data(as_text=True)
        return str(response.get_json()["access_token"])

    for refused in (token(), token("http://127.0.0.1:8009/")):
        answer = get("/api/data", headers={"Authorization": f"Bearer {refused}"})
        assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    ok = get("/api/data", headers={"Authorization": f"Bearer {token('http://127.0.0.1:8001/')}"})
    assert ok.status_code == 200
