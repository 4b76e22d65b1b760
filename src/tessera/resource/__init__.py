"""The resource-server toolkit: what an API imports to accept Tessera's opaque tokens.

    from tessera.resource import IntrospectionSource, RevocationSubscriber, TokenCache, TokenValidator

    cache = TokenCache(IntrospectionSource(issuer, client_id, client_secret), ttl=60)
    validator = TokenValidator(cache, realm="billing", audience="https://billing.example/")  # RFC 8707
    RevocationSubscriber(redis_url, cache).start()          # optional: revocation reaches the cache at once
    # DPoP-bound tokens are checked with their proofs; share the proofs seen between processes through Redis
    # (from tessera.dpop import RedisReplayCache), and refuse bearer tokens altogether if you like:
    validator = TokenValidator(cache, replay=RedisReplayCache(redis_url), require_dpop=True)
    metadata = ResourceMetadata("https://billing.example/", [issuer], ["billing"])  # optional: RFC 9728

Then ``tessera.resource.flask`` or ``tessera.resource.fastapi`` puts the validator in front of views, and serves
the metadata. This package never imports the server or the web pages, and only :mod:`tessera.resource.local`
touches storage.
"""

from tessera.resource.cache import TokenCache
from tessera.resource.core import AccessToken, TokenSource, TokenValidator
from tessera.resource.errors import (
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    MissingToken,
    ServerUnavailable,
    TokenError,
)
from tessera.resource.introspection import IntrospectionSource
from tessera.resource.local import LocalSource
from tessera.resource.metadata import ResourceMetadata
from tessera.resource.revocation import RevocationSubscriber

__all__ = [
    "AccessToken",
    "InsufficientScope",
    "IntrospectionSource",
    "InvalidDPoPProof",
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
