"""Protected-resource metadata (RFC 9728): the value, the document both adapters serve, and the challenges that
point to it (RFC 9728 §5.1, RFC 6750 §3)."""

import asyncio
import json
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from flask.testing import FlaskClient

from tessera.resource import AccessToken, IntrospectionSource, ResourceMetadata, TokenCache, TokenValidator
from tessera.resource import fastapi as fastapi_adapter
from tessera.resource import flask as flask_adapter
from tessera.store import Store
from tests.conftest import ISSUER, TOKEN, register_client
from tests.resource.conftest import ScriptedSource
from tests.resource.test_fastapi import ASGIClient

MCP = ResourceMetadata("https://api.example/mcp", ["https://auth.example"], ["mcp", "mcp:admin"])
MCP_URL = "https://api.example/.well-known/oauth-protected-resource/mcp"
DOCUMENT = {
    "resource": "https://api.example/mcp",
    "authorization_servers": ["https://auth.example"],
    "scopes_supported": ["mcp", "mcp:admin"],
    "bearer_methods_supported": ["header"],
}


@pytest.mark.parametrize(
    ("resource", "url", "paths"),
    [
        ("https://api.example/mcp", MCP_URL, ("/.well-known/oauth-protected-resource/mcp",)),
        ("https://api.example/v1/mcp/", None, ("/.well-known/oauth-protected-resource/v1/mcp/",)),
        ("https://api.example/", "https://api.example/.well-known/oauth-protected-resource", ()),
        ("https://api.example", "https://api.example/.well-known/oauth-protected-resource", ()),
        ("http://127.0.0.1:8001/mcp", "http://127.0.0.1:8001/.well-known/oauth-protected-resource/mcp", None),
    ],
)
def test_the_document_lives_at_the_path_suffixed_well_known_url(
    resource: str, url: str | None, paths: tuple[str, ...] | None
) -> None:
    metadata = ResourceMetadata(resource, ["https://auth.example"])
    if url is not None:
        assert metadata.url == url
    if paths is not None:  # and at the bare well-known path too, which some clients ask first
        assert metadata.paths == (*paths, "/.well-known/oauth-protected-resource")
    document = json.loads(metadata.body)
    assert document == {
        "resource": resource,  # as given: a client must find in it the identifier it used
        "authorization_servers": ["https://auth.example"],
        "bearer_methods_supported": ["header"],
    }


def test_the_document_lists_the_scopes_once_and_the_response_may_be_cached_briefly() -> None:
    assert (
        json.loads(
            ResourceMetadata("https://api.example/mcp", ("https://auth.example",), ["mcp", "mcp:admin", "mcp"]).body
        )
        == DOCUMENT
    )
    assert MCP.headers == {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("api.example/mcp", ["https://auth.example"]), "absolute http"),
        (("ftp://api.example/", ["https://auth.example"]), "absolute http"),
        (("https:///mcp", ["https://auth.example"]), "absolute http"),
        (("https://api.example/mcp?x=1", ["https://auth.example"]), "query"),
        (("https://api.example/mcp#top", ["https://auth.example"]), "fragment"),
        (("https://user@api.example/mcp", ["https://auth.example"]), "user"),
        (("https://api.example/m%20cp", ["https://auth.example"]), "percent-encoding"),
        (('https://api.example/"mcp', ["https://auth.example"]), "quotes"),
        (("https://api.example/mcp", []), "at least one issuer"),
        (("https://api.example/mcp", "https://auth.example"), "in a list"),
        (("https://api.example/mcp", ["auth.example"]), "authorization_servers"),
        (("https://api.example/mcp", ["https://auth.example"], ["a b"]), "not a scope name"),
        (("https://api.example/mcp", ["https://auth.example"], "mcp"), "list of scope names"),
    ],
)
def test_metadata_that_clients_could_not_use_is_refused_when_made(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResourceMetadata(*arguments)


def test_the_validators_audience_must_be_the_metadatas_resource(source: ScriptedSource) -> None:
    for audience in ("https://api.example/other", "https://api.example/mcp/"):
        validator = TokenValidator(source, audience=audience)
        with pytest.raises(ValueError, match="is not the metadata's resource"):
            flask_adapter.ResourceProtector(validator, metadata=MCP)
        with pytest.raises(ValueError, match="is not the metadata's resource"):
            fastapi_adapter.ResourceProtector(validator, metadata=MCP)
        with pytest.raises(ValueError, match="is not the metadata's resource"):
            flask_adapter.ResourceProtector().init_app(Flask("api"), validator, metadata=MCP)
    same = TokenValidator(source, audience="https://api.example/mcp")
    flask_adapter.ResourceProtector(same, metadata=MCP)
    root = ResourceMetadata("https://api.example/", ["https://auth.example"])
    fastapi_adapter.ResourceProtector(TokenValidator(source, audience="https://api.example"), metadata=root)


# Flask


def _flask_api(protector: flask_adapter.ResourceProtector) -> Flask:
    api = Flask("api")

    @api.post("/mcp")
    @protector("mcp")
    def mcp() -> str:
        return "ok"

    @api.get("/admin")
    @protector("mcp", "mcp:admin")
    def admin() -> str:
        return "ok"

    @api.get("/anyone")
    @protector()
    def anyone() -> str:
        return "ok"

    return api


@pytest.fixture
def flask_api(source: ScriptedSource) -> FlaskClient:
    protector = flask_adapter.ResourceProtector(TokenValidator(TokenCache(source), realm="mcp"), metadata=MCP)
    api = _flask_api(protector)
    protector.init_app(api)
    return api.test_client()


def test_flask_serves_the_document_at_both_paths(flask_api: FlaskClient) -> None:
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = flask_api.get(path)
        assert response.status_code == 200 and response.json == DOCUMENT
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "public, max-age=300"
    assert flask_api.get("/.well-known/oauth-protected-resource/other").status_code == 404
    assert flask_api.post("/.well-known/oauth-protected-resource/mcp").status_code == 405


def _challenges(get: Any, source: ScriptedSource) -> None:
    """What every refusal says, Flask's and FastAPI's alike (``get(method, path, token)`` gives the response)."""
    where = f'resource_metadata="{MCP_URL}"'
    missing = get("POST", "/mcp", None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == f'Bearer realm="mcp", scope="mcp", {where}'
    invalid = get("POST", "/mcp", "tsr_at_nonsense")
    assert invalid.status_code == 401
    assert invalid.headers["WWW-Authenticate"] == (
        'Bearer realm="mcp", error="invalid_token", '
        f'error_description="The access token is invalid, expired or revoked.", scope="mcp", {where}'
    )
    token, _ = source.add(scope="mcp")
    short = get("GET", "/admin", token)
    assert short.status_code == 403
    assert short.headers["WWW-Authenticate"].startswith('Bearer realm="mcp", error="insufficient_scope", ')
    assert short.headers["WWW-Authenticate"].endswith(f', scope="mcp mcp:admin", {where}')
    anyone = get("GET", "/anyone", None)  # a route that needs no scope names none
    assert anyone.status_code == 401 and anyone.headers["WWW-Authenticate"] == f'Bearer realm="mcp", {where}'
    assert get("GET", "/anyone", token).status_code == 200
    source.down = True
    down = get("GET", "/admin", token + "x")  # refused by its checksum before the source: still a 401
    assert down.status_code == 401 and where in down.headers["WWW-Authenticate"]
    other, _ = source.add(scope="mcp")
    unavailable = get("POST", "/mcp", other)
    assert unavailable.status_code == 503 and "WWW-Authenticate" not in unavailable.headers


def test_flask_challenges_point_to_the_metadata_and_name_the_scopes(
    flask_api: FlaskClient, source: ScriptedSource
) -> None:
    def get(method: str, path: str, token: str | None) -> Any:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return flask_api.open(path, method=method, headers=headers)

    _challenges(get, source)


def test_flask_with_an_application_factory(source: ScriptedSource) -> None:
    protector = flask_adapter.ResourceProtector()
    api = _flask_api(protector)
    protector.init_app(api, TokenValidator(source), metadata=MCP)
    client = api.test_client()
    assert client.get("/.well-known/oauth-protected-resource/mcp").json == DOCUMENT
    assert client.post("/mcp").headers["WWW-Authenticate"] == f'Bearer scope="mcp", resource_metadata="{MCP_URL}"'
    with pytest.raises(TypeError, match="needs a validator"):
        flask_adapter.ResourceProtector(metadata=MCP).init_app(Flask("other"))


def test_flask_without_metadata_says_what_it_said_before(source: ScriptedSource) -> None:
    api = _flask_api(flask_adapter.ResourceProtector(TokenValidator(source, realm="mcp"))).test_client()
    assert api.post("/mcp").headers["WWW-Authenticate"] == 'Bearer realm="mcp"'
    assert api.get("/.well-known/oauth-protected-resource").status_code == 404


def test_two_resources_on_one_flask_app_each_have_their_document(source: ScriptedSource) -> None:
    other = ResourceMetadata("https://api.example/files", ["https://auth.example"])
    api = Flask("api")
    flask_adapter.ResourceProtector(TokenValidator(source), metadata=MCP).init_app(api)
    flask_adapter.ResourceProtector(TokenValidator(source), metadata=other).init_app(api)
    client = api.test_client()
    assert client.get("/.well-known/oauth-protected-resource/mcp").json["resource"] == MCP.resource
    assert client.get("/.well-known/oauth-protected-resource/files").json["resource"] == other.resource
    assert client.get("/.well-known/oauth-protected-resource").json["resource"] == MCP.resource  # the first one


# FastAPI


def _fastapi_api(source: ScriptedSource) -> FastAPI:
    require_token = fastapi_adapter.ResourceProtector(TokenValidator(TokenCache(source), realm="mcp"), metadata=MCP)
    api = FastAPI()
    api.include_router(require_token.metadata_router())

    @api.post("/mcp")
    def mcp(token: Annotated[AccessToken, Depends(require_token("mcp"))]) -> str:
        return "ok"

    @api.get("/admin")
    def admin(token: Annotated[AccessToken, Depends(require_token("mcp", "mcp:admin"))]) -> str:
        return "ok"

    @api.get("/anyone")
    def anyone(token: Annotated[AccessToken, Depends(require_token())]) -> str:
        return "ok"

    return api


def _asgi(api: FastAPI, method: str, path: str, token: str | None = None) -> httpx.Response:
    async def send() -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api.test") as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(send())


def test_fastapi_serves_the_document_at_both_paths_outside_the_schema(source: ScriptedSource) -> None:
    api = _fastapi_api(source)
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = _asgi(api, "GET", path)
        assert response.status_code == 200 and response.json() == DOCUMENT
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "public, max-age=300"
    schema = ASGIClient(api).get("/openapi.json").json()
    assert not any(path.startswith("/.well-known") for path in schema["paths"])


def test_fastapi_challenges_point_to_the_metadata_and_name_the_scopes(source: ScriptedSource) -> None:
    api = _fastapi_api(source)
    _challenges(lambda method, path, token: _asgi(api, method, path, token), source)


def test_fastapi_without_metadata_has_no_router_to_give(source: ScriptedSource) -> None:
    with pytest.raises(RuntimeError, match="no metadata"):
        fastapi_adapter.ResourceProtector(TokenValidator(source)).metadata_router()


# discovery, as an MCP client does it (RFC 9728 §5, RFC 8414), against the real authorization server


def test_a_client_finds_the_authorization_server_from_a_401_and_gets_in(client: FlaskClient, store: Store) -> None:
    resource = "http://127.0.0.1:8001/mcp"
    metadata = ResourceMetadata(resource, [ISSUER], ["mcp"])
    transport = httpx.WSGITransport(app=client.application)
    introspection = IntrospectionSource(ISSUER, *_introspecting_client(store), transport=transport)
    protector = flask_adapter.ResourceProtector(TokenValidator(introspection), metadata=metadata)
    api = _flask_api(protector)
    protector.init_app(api)
    mcp = api.test_client()

    refused = mcp.post("/mcp")
    challenge = refused.headers["WWW-Authenticate"]
    where = challenge.split('resource_metadata="')[1].split('"')[0]
    document = mcp.get(urlsplit(where).path).json
    assert document["resource"] == resource and document["scopes_supported"] == ["mcp"]
    issuer = document["authorization_servers"][0]
    assert client.get("/.well-known/oauth-authorization-server").json["issuer"] == issuer
    caller = register_client(store, redirect_uris=(), grant_types=("client_credentials",), scope="mcp")
    token = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "mcp"}, headers=caller.basic).json
    assert mcp.post("/mcp", headers={"Authorization": f"Bearer {token['access_token']}"}).get_data(as_text=True) == "ok"
    introspection.close()


def _introspecting_client(store: Store) -> tuple[str, str]:
    api = register_client(store, redirect_uris=(), grant_types=("client_credentials",), scope="api", introspect=True)
    assert api.secret is not None
    return api.client_id, api.secret
