"""The FastAPI adapter: Depends(require_token(...)) gives the AccessToken, over a scripted source and both
real sources."""

import asyncio
from contextlib import closing
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask.testing import FlaskClient
from starlette.concurrency import run_in_threadpool

from tessera.resource import AccessToken, IntrospectionSource, LocalSource, TokenCache, TokenValidator
from tessera.resource.fastapi import ResourceProtector
from tessera.tokens import TokenKind, mint
from tests.conftest import REVOKE, RegisteredClient, client_credentials_token, random_free_id
from tests.resource.conftest import ScriptedSource


def _api(require_token: ResourceProtector) -> FastAPI:
    api = FastAPI()

    @api.get("/data")
    def data(token: AccessToken = Depends(require_token("api"))) -> dict[str, Any]:  # noqa: B008
        return {"client_id": token.client_id, "username": token.username}

    @api.get("/restricted")
    async def restricted(token: AccessToken = Depends(require_token("api", "restricted"))) -> str:  # noqa: B008
        return "Restricted API data."

    return api


class ASGIClient:
    """Requests to an ASGI app through httpx's ASGITransport, one event loop per request.

    (Starlette's TestClient now warns unless the separate httpx2 package is installed; this is all we need.)
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str, headers: Any = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(send())


@pytest.fixture
def api(source: ScriptedSource) -> ASGIClient:
    return ASGIClient(_api(ResourceProtector(TokenValidator(TokenCache(source), realm="test-api"))))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_good_token_reaches_the_view(api: ASGIClient, source: ScriptedSource) -> None:
    token, found = source.add(scope="api restricted")
    response = api.get("/data", headers=_bearer(token))
    assert response.status_code == 200
    assert response.json() == {"client_id": found.client_id, "username": "alice"}
    assert api.get("/restricted", headers=_bearer(token)).json() == "Restricted API data."


def test_no_token_is_401_with_a_bare_challenge(api: ASGIClient) -> None:
    response = api.get("/data")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="test-api"'
    assert response.json() == {"detail": "An access token is required."}


@pytest.mark.parametrize(
    "header", [f"Bearer {mint(TokenKind.ACCESS)}", "Bearer nope", "Basic dXNlcjpwdw=="], ids=random_free_id
)
def test_a_bad_token_is_401_invalid_token(api: ASGIClient, header: str) -> None:
    response = api.get("/data", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="test-api", error="invalid_token"')


def test_two_authorization_headers_are_refused(api: ASGIClient, source: ScriptedSource) -> None:
    token, _ = source.add()
    response = api.get("/data", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])
    assert response.status_code == 401 and "more than one token" in response.headers["WWW-Authenticate"]


def test_a_missing_scope_is_403_insufficient_scope(api: ASGIClient, source: ScriptedSource) -> None:
    token, _ = source.add(scope="api")
    response = api.get("/restricted", headers=_bearer(token))
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="api restricted"' in challenge


def test_a_source_that_cannot_answer_is_503(api: ASGIClient, source: ScriptedSource) -> None:
    token, _ = source.add()
    source.down = True
    response = api.get("/data", headers=_bearer(token))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1" and "WWW-Authenticate" not in response.headers
    assert response.json() == {"detail": "The authorization server cannot be reached; try again shortly."}


def test_only_a_cache_miss_goes_to_a_worker_thread(
    api: ASGIClient, source: ScriptedSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = source.add()
    calls: list[object] = []
    original = run_in_threadpool

    async def counting(func: Any, *args: Any) -> Any:
        calls.append(func)
        return await original(func, *args)

    monkeypatch.setattr("tessera.resource.fastapi.run_in_threadpool", counting)
    for _ in range(3):
        assert api.get("/data", headers=_bearer(token)).status_code == 200
    assert len(calls) == 1 and source.calls == 1


def test_the_openapi_schema_shows_bearer_security(api: ASGIClient) -> None:
    schema = api.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {"type": "http", "scheme": "bearer"}
    assert schema["paths"]["/data"]["get"]["security"] == [{"HTTPBearer": []}]


# the real sources


def test_local_source_behind_fastapi(client: FlaskClient, service: RegisteredClient, sqlite_url: str) -> None:
    token = client_credentials_token(client, service)
    source = LocalSource.from_url(sqlite_url)
    with closing(source):
        api = ASGIClient(_api(ResourceProtector(TokenValidator(TokenCache(source, ttl=0)))))
        assert api.get("/data", headers=_bearer(token)).json() == {"client_id": service.client_id, "username": None}
        assert api.get("/restricted", headers=_bearer(token)).status_code == 403
        client.post(REVOKE, data={"token": token}, headers=service.basic)
        assert api.get("/data", headers=_bearer(token)).status_code == 401


def test_introspection_source_behind_fastapi(
    introspection: IntrospectionSource, client: FlaskClient, service: RegisteredClient
) -> None:
    token = client_credentials_token(client, service)
    api = ASGIClient(_api(ResourceProtector(TokenValidator(TokenCache(introspection, ttl=0)))))
    assert api.get("/data", headers=_bearer(token)).status_code == 200
    client.post(REVOKE, data={"token": token}, headers=service.basic)
    assert api.get("/data", headers=_bearer(token)).status_code == 401
