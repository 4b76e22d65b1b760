"""The same API as ``flask_api``, on FastAPI: the dependency checks the token before the route runs, and a
cached answer never leaves the event loop.

Run it beside a Tessera server::

    pip install 'tessera-oauth-resource[fastapi]'   # FastAPI and uvicorn (in a checkout: pip install -e '.[fastapi]')
    tessera clients create --name "Example API" --grant-type client_credentials --introspect --json
    export TESSERA_ISSUER=http://127.0.0.1:8000 API_CLIENT_ID=... API_CLIENT_SECRET=...
    export TESSERA_REDIS_URL=redis://127.0.0.1:6379/0   # optional
    tessera resources create http://127.0.0.1:8001/ --name "Example API"   # optional, with API_RESOURCE:
    export API_RESOURCE=http://127.0.0.1:8001/          # serve the metadata (RFC 9728), accept only its tokens
    uvicorn --factory examples.fastapi_api:from_environment --port 8001
"""

import os
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import Annotated

from fastapi import Depends, FastAPI

from tessera.resource import (
    AccessToken,
    IntrospectionSource,
    ResourceMetadata,
    RevocationSubscriber,
    TokenCache,
    TokenValidator,
)
from tessera.resource.fastapi import ResourceProtector

__all__ = ["create_app", "from_environment"]


def create_app(
    validator: TokenValidator,
    subscriber: RevocationSubscriber | None = None,
    metadata: ResourceMetadata | None = None,
) -> FastAPI:
    require_token = ResourceProtector(validator, metadata=metadata)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the subscriber listens while the app serves, in the process that serves it
        listening: AbstractContextManager[object] = subscriber if subscriber is not None else nullcontext()
        with listening:
            yield

    app = FastAPI(lifespan=lifespan)
    if metadata is not None:
        app.include_router(require_token.metadata_router())

    @app.get("/api/data")
    def data(token: Annotated[AccessToken, Depends(require_token("api"))]) -> dict[str, str]:
        return {"message": "Protected API data.", "for": token.username or token.client_id}

    @app.get("/api/billing")
    def billing(token: Annotated[AccessToken, Depends(require_token("api", "billing:read"))]) -> dict[str, str]:
        return {"message": "Invoices.", "scope": token.scope}

    return app


def from_environment() -> FastAPI:
    """The app, configured from ``TESSERA_ISSUER``, ``API_CLIENT_ID``, ``API_CLIENT_SECRET`` and, optionally,
    ``TESSERA_REDIS_URL`` (and ``TESSERA_REVOCATION_CHANNEL`` if the server uses another channel) and
    ``API_RESOURCE`` (this API's URL: the metadata is served, as in ``flask_api``)."""
    issuer = os.environ["TESSERA_ISSUER"]
    source = IntrospectionSource(issuer, os.environ["API_CLIENT_ID"], os.environ["API_CLIENT_SECRET"])
    cache = TokenCache(source, ttl=60)
    subscriber = None
    if redis_url := os.environ.get("TESSERA_REDIS_URL"):
        channel = os.environ.get("TESSERA_REVOCATION_CHANNEL", "tessera:revoked")
        subscriber = RevocationSubscriber(redis_url, cache, channel=channel)
    metadata = None
    if resource := os.environ.get("API_RESOURCE") or None:
        # as in flask_api: the metadata is served, and only tokens issued for this URL are accepted
        metadata = ResourceMetadata(resource, [issuer], ["api", "billing:read"])
    return create_app(TokenValidator(cache, realm="example", audience=resource), subscriber, metadata)
