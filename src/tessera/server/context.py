"""``ServerContext``: everything a request may touch, built once per process by :func:`tessera.app.create_app`.

Grants and endpoints reach it as ``self.server.context`` (typed: they are registered on a
:class:`~tessera.server.authorization.TesseraServer`); the machine handlers get the server as an argument; pages
get it from :func:`current_server`. Nothing else is shared between requests.

    context.settings        the validated TESSERA_* settings
    context.store           storage, by protocol (tessera.store.protocols)
    context.clients         registered clients, cached for a few seconds (tessera.server.clients)
    context.rate_limits     sign-in and per-client limits (tessera.ratelimit)
    context.revocations     revoke, and tell resource-server caches
    context.keys            the ID-token signing keys and the JWKS (tessera.server.keys)
    context.clock           seconds since the epoch; tests replace it to move time
"""

import dataclasses
import time
from collections.abc import Callable, Iterable

from tessera.config import Settings
from tessera.ratelimit import RateLimits
from tessera.server.clients import ClientCache
from tessera.server.keys import Keyring
from tessera.store import Storage, Tokens

__all__ = ["Clock", "Revocations", "RevocationListener", "ServerContext"]

#: called with the access-token digests that were just revoked
RevocationListener = Callable[[list[str]], None]
Clock = Callable[[], float]


class Revocations:
    """Every revocation of the server goes through here, so that every listener (the Redis publisher that
    resource-server caches subscribe to) hears of it."""

    def __init__(self, tokens: Tokens, listeners: Iterable[RevocationListener] = ()) -> None:
        self._tokens = tokens
        self.listeners = list(listeners)

    def revoke_grant(self, grant_id: str) -> list[str]:
        """Revoke every token of one authorization (the family); return the revoked access digests."""
        return self.announce(self._tokens.revoke_grant(grant_id))

    def announce(self, digests: list[str]) -> list[str]:
        """Tell the listeners about tokens revoked by other means (a refresh token's rotation)."""
        if digests:
            for listener in self.listeners:
                listener(digests)
        return digests


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerContext:
    settings: Settings
    store: Storage
    clients: ClientCache
    rate_limits: RateLimits
    revocations: Revocations
    keys: Keyring
    clock: Clock = time.time

    def now(self) -> int:
        """The clock in whole seconds, as every stored time is."""
        return int(self.clock())
