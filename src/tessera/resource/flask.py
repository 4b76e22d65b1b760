"""Flask adapter: a decorator that requires a token, and ``current_token`` inside the view.

    from tessera.resource.flask import ResourceProtector, current_token

    require_token = ResourceProtector(validator)

    @app.get("/api/data")
    @require_token("api")
    def data() -> str:
        return f"Hello {current_token.username}"

It reads as Authlib's ``ResourceProtector`` does (``@require_oauth("api")``). With an application factory,
create the protector without a validator and attach one per app: ``require_token.init_app(app, validator)``.
This module only translates: the ``Authorization`` header in, a :class:`~tessera.resource.errors.TokenError`
out as a JSON response (``error``, ``error_description``) with its status and ``WWW-Authenticate``.
"""

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.local import LocalProxy

from tessera.resource.core import AccessToken, TokenValidator
from tessera.resource.errors import TokenError

__all__ = ["ResourceProtector", "current_token"]

P = ParamSpec("P")
R = TypeVar("R")

_EXTENSION = "tessera.resource"


def _current_token() -> AccessToken:
    token = g.get("tessera_access_token")
    if token is None:
        raise RuntimeError("current_token is only set inside a view decorated with a ResourceProtector")
    return cast(AccessToken, token)


#: the :class:`~tessera.resource.core.AccessToken` of the request, inside a protected view
current_token: AccessToken = cast(AccessToken, LocalProxy(_current_token))


class ResourceProtector:
    """``protector("a", "b")`` is a decorator that lets a request through only with a token granting both."""

    def __init__(self, validator: TokenValidator | None = None) -> None:
        self.validator = validator

    def init_app(self, app: Flask, validator: TokenValidator) -> None:
        """Use ``validator`` for requests to ``app`` (when the protector was built without one)."""
        app.extensions[_EXTENSION] = validator

    def _validator(self) -> TokenValidator:
        if self.validator is not None:
            return self.validator
        validator = current_app.extensions.get(_EXTENSION)
        if validator is None:
            raise RuntimeError("this ResourceProtector has no validator: pass one, or call init_app(app, validator)")
        return cast(TokenValidator, validator)

    def __call__(self, *scopes: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
        required = frozenset(scopes)

        def decorator(view: Callable[P, R]) -> Callable[P, R | Response]:
            # Flask's ensure_sync only wraps coroutine functions, and Flask already passed this (sync) wrapper
            # through it; so a sync view is called as it is, and only an async one pays for the look-up per call
            is_async = inspect.iscoroutinefunction(view)

            @functools.wraps(view)
            def protected(*args: P.args, **kwargs: P.kwargs) -> R | Response:
                validator = self._validator()
                try:
                    g.tessera_access_token = validator.validate(_authorization(), required)
                except TokenError as exc:
                    return _error_response(exc, validator.realm)
                if is_async:
                    return cast(R, current_app.ensure_sync(view)(*args, **kwargs))
                return view(*args, **kwargs)

            return protected

        return decorator


def _authorization() -> str | None:
    # A WSGI environ holds one value per header name, so request.headers.getlist never saw more than one; repeated
    # headers arrive joined with ", " (Werkzeug's test client does so too), which the core refuses as several
    # tokens. Reading the environ directly skips getlist's scan of every header of the request.
    value = request.environ.get("HTTP_AUTHORIZATION")
    return cast(str | None, value)


def _error_response(exc: TokenError, realm: str | None) -> Response:
    response = jsonify(exc.body())
    response.status_code = exc.status_code
    response.headers.update(exc.headers(realm))
    return response
