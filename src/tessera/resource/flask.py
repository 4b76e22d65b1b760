"""Flask adapter: a decorator that requires a token, and ``current_token`` inside the view.

    from tessera.resource.flask import ResourceProtector, current_token

    require_token = ResourceProtector(validator)

    @app.get("/api/data")
    @require_token("api")
    def data() -> str:
        return f"Hello {current_token.username}"

It reads as Authlib's ``ResourceProtector`` does (``@require_oauth("api")``). With an application factory,
create the protector without a validator and attach one per app: ``require_token.init_app(app, validator)``.
This module only translates: the ``Authorization`` header in (with, for DPoP, the ``DPoP`` header, the method and
the URL without its query, as the client wrote it: percent-encoded, from the WSGI environ, which is what the client
called once the app is behind werkzeug's ``ProxyFix`` if a proxy is in front), a
:class:`~tessera.resource.errors.TokenError` out as a JSON response (``error``, ``error_description``) with its
status and ``WWW-Authenticate``.

With :class:`~tessera.resource.metadata.ResourceMetadata` (``ResourceProtector(validator, metadata=...)``, or
``init_app(app, validator, metadata=...)``), ``init_app`` also registers ``GET`` routes that serve the document
(RFC 9728), and every 401 and 403 names it in ``resource_metadata`` with the ``scope`` the view needs. Call
``init_app`` before the app serves its first request, as Flask wants for any route.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import quote

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.local import LocalProxy

from tessera.resource.core import AccessToken, TokenValidator
from tessera.resource.errors import TokenError, check_scopes
from tessera.resource.metadata import ResourceMetadata

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
    """``protector("a", "b")`` is a decorator that lets a request through only with a token granting both.

    ``metadata`` makes :meth:`init_app` serve the resource's metadata and the challenges point to it.
    """

    def __init__(self, validator: TokenValidator | None = None, *, metadata: ResourceMetadata | None = None) -> None:
        if metadata is not None and validator is not None:
            metadata.check_audience(validator.audience)
        self.validator = validator
        self.metadata = metadata

    def init_app(
        self, app: Flask, validator: TokenValidator | None = None, *, metadata: ResourceMetadata | None = None
    ) -> None:
        """Use ``validator`` and ``metadata`` for requests to ``app`` (when the protector was built without them),
        and serve the metadata, if there is any, at its well-known paths."""
        used = self.validator or validator
        if used is None:
            raise TypeError("init_app needs a validator: this ResourceProtector was built without one")
        metadata = self.metadata or metadata
        if metadata is not None:
            metadata.check_audience(used.audience)
            _serve(app, metadata)
        app.extensions[_EXTENSION] = (validator, metadata)

    def _validator(self) -> TokenValidator:
        if self.validator is not None:
            return self.validator
        validator = current_app.extensions.get(_EXTENSION, (None, None))[0]
        if validator is None:
            raise RuntimeError("this ResourceProtector has no validator: pass one, or call init_app(app, validator)")
        return cast(TokenValidator, validator)

    def _metadata(self) -> ResourceMetadata | None:
        if self.metadata is not None:
            return self.metadata
        return cast(ResourceMetadata | None, current_app.extensions.get(_EXTENSION, (None, None))[1])

    def _refuse(self, exc: TokenError, realm: str | None, required: frozenset[str]) -> Response:
        response = jsonify(exc.body())
        response.status_code = exc.status_code
        metadata = self._metadata()
        if metadata is None:
            response.headers.update(exc.headers(realm))
        else:
            response.headers.update(exc.headers(realm, scopes=required, resource_metadata=metadata.url))
        return response

    def __call__(self, *scopes: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
        required = check_scopes(scopes)

        def decorator(view: Callable[P, R]) -> Callable[P, R | Response]:
            # Flask's ensure_sync only wraps coroutine functions, and Flask already passed this (sync) wrapper
            # through it; so a sync view is called as it is, and only an async one pays for the look-up per call
            is_async = inspect.iscoroutinefunction(view)

            @functools.wraps(view)
            def protected(*args: P.args, **kwargs: P.kwargs) -> R | Response:
                validator = self._validator()
                # the environ once: each attribute of ``request`` is a look-up through Flask's context proxy
                environ = request.environ
                authorization = _authorization(environ)
                try:
                    if _is_dpop(authorization):
                        g.tessera_access_token = validator.validate(
                            authorization,
                            required,
                            dpop=environ.get("HTTP_DPOP"),
                            method=environ["REQUEST_METHOD"],
                            url=_url(
                                environ["wsgi.url_scheme"],
                                environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}",
                                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                            ),
                        )
                    else:
                        g.tessera_access_token = validator.validate(authorization, required)
                except TokenError as exc:
                    return self._refuse(exc, validator.realm, required)
                if is_async:
                    return cast(R, current_app.ensure_sync(view)(*args, **kwargs))
                return view(*args, **kwargs)

            return protected

        return decorator


def _authorization(environ: dict[str, Any]) -> str | None:
    # A WSGI environ holds one value per header name, so request.headers.getlist never saw more than one; repeated
    # headers arrive joined with ", " (Werkzeug's test client does so too), which the core refuses as several
    # tokens. Reading the environ directly skips getlist's scan of every header of the request.
    return cast(str | None, environ.get("HTTP_AUTHORIZATION"))


def _is_dpop(authorization: str | None) -> bool:
    # the URL is worked out only for a DPoP request: a bearer token's validation does not pay for it
    return authorization is not None and authorization.lstrip()[:5].lower() == "dpop "


@functools.lru_cache(maxsize=1024)
def _url(scheme: str, host: str, path: str) -> str:
    """The request's URL without its query, percent-encoded as the client sent it (RFC 9449 §4.3 compares ``htu``
    with it), from the environ's scheme, host and ``SCRIPT_NAME`` + ``PATH_INFO``; kept per distinct request
    target (an API has few), so that a request to one pays a look-up. Werkzeug's ``request.base_url`` is an IRI,
    with escapes such as ``%C3%A9`` decoded."""
    # PEP 3333: the path is the raw bytes read as latin-1; quoted back as they came, reserved characters kept
    return f"{scheme}://{host}{quote(path.encode('latin-1'), safe=_PATH_SAFE)}"


_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _serve(app: Flask, metadata: ResourceMetadata) -> None:
    def resource_metadata() -> Response:
        return Response(metadata.body, headers=metadata.headers)

    routed = {rule.rule for rule in app.url_map.iter_rules()}
    for path in metadata.paths:
        if path not in routed:  # the bare well-known path of a second resource on one app: the first one keeps it
            app.add_url_rule(path, f"{_EXTENSION}.metadata:{path}", resource_metadata, methods=["GET"])
