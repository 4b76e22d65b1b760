"""FastAPI adapter: a dependency that requires a token and gives the view its :class:`AccessToken`.

    from fastapi import Depends, FastAPI
    from tessera.resource import AccessToken
    from tessera.resource.fastapi import ResourceProtector

    require_token = ResourceProtector(validator)

    @app.get("/api/data")
    def data(token: AccessToken = Depends(require_token("api"))) -> dict[str, str]:
        return {"hello": token.subject}

Needs the ``fastapi`` extra (``pip install 'tessera[fastapi]'``). A cached answer is given on the event loop
with no I/O; only a cache miss runs the (blocking) token source in a worker thread. Errors become FastAPI's
``HTTPException`` (body ``{"detail": ...}``) with the status and ``WWW-Authenticate`` RFC 6750 asks for, so an
app's own exception handlers see them as usual. A DPoP request (RFC 9449) also passes the ``DPoP`` header, the
method and the URL without its query (``request.url``: run uvicorn with ``--proxy-headers`` behind a proxy, so that
it is the URL the client called). The routes show up as bearer-protected in the OpenAPI schema.

With :class:`~tessera.resource.metadata.ResourceMetadata` (``ResourceProtector(validator, metadata=...)``),
``app.include_router(require_token.metadata_router())`` serves the document (RFC 9728; left out of the OpenAPI
schema, which describes the API's own operations), and every 401 and 403 names it in ``resource_metadata`` with
the ``scope`` the route needs.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tessera.resource.core import AccessToken, TokenValidator
from tessera.resource.errors import TokenError, check_scopes
from tessera.resource.metadata import ResourceMetadata

__all__ = ["ResourceProtector"]

# declares the bearer scheme in OpenAPI; the header itself is read below, all of it, by the core
_bearer = HTTPBearer(auto_error=False)


class ResourceProtector:
    """``Depends(protector("a", "b"))`` lets a request through only with a token granting both.

    ``metadata`` makes the challenges point to the resource's metadata, which :meth:`metadata_router` serves.
    """

    def __init__(self, validator: TokenValidator, *, metadata: ResourceMetadata | None = None) -> None:
        if metadata is not None:
            metadata.check_audience(validator.audience)
        self.validator = validator
        self.metadata = metadata

    def metadata_router(self) -> APIRouter:
        """A router that serves the metadata at its well-known paths: ``app.include_router(...)`` it, unprefixed."""
        metadata = self.metadata
        if metadata is None:
            raise RuntimeError("this ResourceProtector has no metadata: pass metadata=ResourceMetadata(...)")

        async def resource_metadata() -> Response:
            return Response(metadata.body, headers=metadata.headers)

        router = APIRouter()
        for path in metadata.paths:
            router.add_api_route(path, resource_metadata, methods=["GET"], include_in_schema=False)
        return router

    def __call__(self, *scopes: str) -> Callable[..., Awaitable[AccessToken]]:
        required = check_scopes(scopes)
        validator = self.validator
        # what the challenges add when there is metadata; nothing otherwise, as before
        metadata_url = None if self.metadata is None else self.metadata.url
        challenge_scopes = frozenset() if self.metadata is None else required

        async def require_token(
            request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
        ) -> AccessToken:
            authorization = _authorization(request)
            dpop: dict[str, Any] = {}
            if authorization is not None and authorization.lstrip()[:5].lower() == "dpop ":
                # RFC 9449 §4.3: htu is the URL without query or fragment; the method as sent
                proofs = request.headers.getlist("dpop")
                dpop = {
                    "dpop": ", ".join(proofs) or None,
                    "method": request.method,
                    "url": str(request.url.replace(query="", fragment="")),
                }
            try:
                token = validator.validate_cached(authorization, required, **dpop)
                if token is None:
                    token = await run_in_threadpool(
                        functools.partial(validator.validate, **dpop), authorization, required
                    )
            except TokenError as exc:
                raise HTTPException(
                    exc.status_code,
                    exc.description,
                    exc.headers(validator.realm, scopes=challenge_scopes, resource_metadata=metadata_url),
                ) from None
            return token

        return require_token


def _authorization(request: Request) -> str | None:
    values = request.headers.getlist("authorization")
    # two headers must not pass as one: the core refuses a comma-joined value as several tokens
    return ", ".join(values) or None
