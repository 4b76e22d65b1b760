"""The resource-server toolkit: what an API imports to accept Tessera's opaque tokens.

    from tessera.resource import IntrospectionSource, RevocationSubscriber, TokenCache, TokenValidator

    cache = TokenCache(IntrospectionSource(issuer, client_id, client_secret), ttl=60)
    validator = TokenValidator(cache, realm="billing", audience="https://billing.example/")  # RFC 8707
    RevocationSubscriber(redis_url, cache).start()          # optional: revocation reaches the cache at once
    metadata = ResourceMetadata("https://billing.example/", [issuer], ["billing"])  # optional: RFC 9728

Then ``tessera.resource.flask`` or ``tessera.resource.fastapi`` puts the validator in front of views, and serves
the metadata. This package never imports the server or the web pages, and only :mod:`tessera.resource.local`
touches storage.
"""

from tessera.resource.cache import TokenCache
from tessera.resource.core import AccessToken, TokenSource, TokenValidator
from tessera.resource.errors import InsufficientScope, InvalidToken, MissingToken, ServerUnavailable, TokenError
from tessera.resource.introspection import IntrospectionSource
from tessera.resource.local import LocalSource
from tessera.resource.metadata import ResourceMetadata
from tessera.resource.revocation import RevocationSubscriber

__all__ = [
    "AccessToken",
    "InsufficientScope",
    "IntrospectionSource",
    "InvalidToken",
    "LocalSource",
    "MissingToken",
    "ResourceMetadata",
    "RevocationSubscriber",
    "ServerUnavailable",
    "TokenCache",
    "TokenError",
    "TokenSource",
    "TokenValidator",
]
