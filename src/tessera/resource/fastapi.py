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
app's own exception handlers see them as usual. The routes show up as bearer-protected in the OpenAPI schema.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tessera.resource.core import AccessToken, TokenValidator
from tessera.resource.errors import TokenError

__all__ = ["ResourceProtector"]

# declares the bearer scheme in OpenAPI; the header itself is read below, all of it, by the core
_bearer = HTTPBearer(auto_error=False)


class ResourceProtector:
    """``Depends(protector("a", "b"))`` lets a request through only with a token granting both."""

    def __init__(self, validator: TokenValidator) -> None:
        self.validator = validator

    def __call__(self, *scopes: str) -> Callable[..., Awaitable[AccessToken]]:
        required = frozenset(scopes)
        validator = self.validator

        async def require_token(
            request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
        ) -> AccessToken:
            authorization = _authorization(request)
            try:
                token = validator.validate_cached(authorization, required)
                if token is None:
                    token = await run_in_threadpool(validator.validate, authorization, required)
            except TokenError as exc:
                raise HTTPException(exc.status_code, exc.description, exc.headers(validator.realm)) from None
            return token

        return require_token


def _authorization(request: Request) -> str | None:
    values = request.headers.getlist("authorization")
    # two headers must not pass as one: the core refuses a comma-joined value as several tokens
    return ", ".join(values) or None
