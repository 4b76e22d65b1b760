"""A Flask API that accepts Tessera's access tokens, validated by introspection, cached, and dropped from the cache
the moment they are revoked (when Redis is configured).

Run it beside a Tessera server (``tessera demo`` registers nothing for it: create a client that may introspect)::

    pip install 'tessera-oauth-resource[flask]'          # or, in a Tessera checkout: pip install -e .
    tessera clients create --name "Example API" --grant-type client_credentials --introspect --json
    export TESSERA_ISSUER=http://127.0.0.1:8000 API_CLIENT_ID=... API_CLIENT_SECRET=...
    export TESSERA_REDIS_URL=redis://127.0.0.1:6379/0   # optional: revocations reach the cache at once
    tessera resources create http://127.0.0.1:8001/ --name "Example API"   # optional, with API_RESOURCE:
    export API_RESOURCE=http://127.0.0.1:8001/          # say where tokens come from (RFC 9728), accept only theirs
    export API_INTROSPECTION_ENDPOINT=http://10.0.0.5:8000/oauth/introspect   # optional: one node, not the issuer
    flask --app 'examples.flask_api:from_environment()' run --port 8001
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8001/api/data
    curl http://127.0.0.1:8001/.well-known/oauth-protected-resource   # with API_RESOURCE
"""

import os

from flask import Flask

from tessera.resource import IntrospectionSource, ResourceMetadata, RevocationSubscriber, TokenCache, TokenValidator
from tessera.resource.flask import ResourceProtector, current_token

__all__ = ["create_app", "from_environment", "require_token"]

require_token = ResourceProtector()


def create_app(validator: TokenValidator, metadata: ResourceMetadata | None = None) -> Flask:
    app = Flask(__name__)
    require_token.init_app(app, validator, metadata=metadata)  # with metadata, also serves it

    @app.get("/api/data")
    @require_token("api")
    def data() -> dict[str, str]:
        return {"message": "Protected API data.", "for": current_token.username or current_token.client_id}

    @app.get("/api/billing")
    @require_token("api", "billing:read")  # every scope listed is required
    def billing() -> dict[str, str]:
        return {"message": "Invoices.", "scope": current_token.scope}

    return app


def from_environment() -> Flask:
    """The app, configured from ``TESSERA_ISSUER``, ``API_CLIENT_ID``, ``API_CLIENT_SECRET`` and, optionally,
    ``TESSERA_REDIS_URL``, ``API_RESOURCE`` (this API's URL) and ``API_INTROSPECTION_ENDPOINT`` (to introspect
    at one server node, or through an internal address, rather than at the issuer's public URL). Called once in each
    process that serves requests (``flask run`` and granian call it in each worker), which is where a revocation
    subscriber must run: its thread does not survive a fork."""
    issuer = os.environ["TESSERA_ISSUER"]
    source = IntrospectionSource(
        issuer,
        os.environ["API_CLIENT_ID"],
        os.environ["API_CLIENT_SECRET"],
        endpoint=os.environ.get("API_INTROSPECTION_ENDPOINT") or None,
    )
    cache = TokenCache(source, ttl=60)  # without Redis, the most a revoked token outlives its revocation here
    if redis_url := os.environ.get("TESSERA_REDIS_URL"):
        # the stream the server writes revocations to (TESSERA_REVOCATION_CHANNEL there; default tessera:revoked)
        channel = os.environ.get("TESSERA_REVOCATION_CHANNEL", "tessera:revoked")
        RevocationSubscriber(redis_url, cache, channel=channel).start()
    metadata = None
    if resource := os.environ.get("API_RESOURCE") or None:
        # clients that know only this API's URL find the issuer here, and ask for tokens with resource=<this URL>
        # (registered with `tessera resources create`); a token for another API, or for none, is refused
        metadata = ResourceMetadata(resource, [issuer], ["api", "billing:read"])
    return create_app(TokenValidator(cache, realm="example", audience=resource), metadata)
