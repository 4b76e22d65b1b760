"""The demo resource API: two endpoints behind :mod:`tessera.resource.flask`, validating by introspection.

    GET /api/data        needs scope ``api``         200 ``Protected API data.``
    GET /api/restricted  needs scope ``restricted``  200 ``Restricted API data.``

No token is 401 with a ``WWW-Authenticate: Bearer`` challenge; a bad, expired or revoked token 401 with
``error="invalid_token"``; a token without the scope 403 with ``error="insufficient_scope"`` (RFC 6750 §3).

The demo registers the API as a resource (``http://127.0.0.1:<api-port>/``): it refuses tokens issued for another
audience, or for none (401 ``invalid_token``), and serves ``/.well-known/oauth-protected-resource``.

This is the realistic deployment: the API is a separate service, registered as a client with ``--introspect``,
that asks the authorization server about tokens (RFC 7662) and never reads its database.

It asks about every request: no cache. Revocation therefore shows at the very next call, whether it comes from
the app's logout or from ``tessera tokens revoke`` in another process, with no Redis. A production API puts a
:class:`~tessera.resource.TokenCache` in front of the source and runs a
:class:`~tessera.resource.RevocationSubscriber`, which empties the cache within milliseconds of a revocation;
without Redis the cache's TTL is then the worst-case staleness.
"""

from flask import Flask, Response

from tessera.resource import IntrospectionSource, ResourceMetadata, TokenValidator
from tessera.resource.flask import ResourceProtector

__all__ = ["create_api_app"]


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def create_api_app(issuer: str, client_id: str, client_secret: str, resource: str | None = None) -> Flask:
    """The API for the authorization server at ``issuer``; ``client_id`` must be registered with ``--introspect``.

    With ``resource`` (the API's URI, registered at the server as a resource), the API accepts only tokens issued
    for it (RFC 8707) and serves its protected-resource metadata (RFC 9728), which every 401 names."""
    validator = TokenValidator(IntrospectionSource(issuer, client_id, client_secret), realm="demo", audience=resource)
    metadata = None
    if resource is not None:
        metadata = ResourceMetadata(resource, [issuer], scopes_supported=("api", "restricted"))
    require_token = ResourceProtector(validator, metadata=metadata)
    app = Flask("tessera.demo.api")
    require_token.init_app(app)

    @app.get("/api/data")
    @require_token("api")
    def data() -> Response:
        return _text("Protected API data.")

    @app.get("/api/restricted")
    @require_token("restricted")
    def restricted() -> Response:
        return _text("Restricted API data.")

    return app
