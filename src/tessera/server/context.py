"""``ServerContext``: everything a request may touch, built once per process by :func:`tessera.app.create_app`.

Grants and endpoints reach it as ``self.server.context`` (typed: they are registered on a
:class:`~tessera.server.authorization.TesseraServer`); the machine handlers get the server as an argument; pages
get it from :func:`current_server`. Nothing else is shared between requests.

    context.settings        the validated TESSERA_* settings
    context.store           storage, by protocol (tessera.store.protocols)
    context.clients         registered clients, cached for a few seconds (tessera.server.clients)
    context.rate_limits     sign-in and per-client limits (tessera.ratelimit)
    context.revocations     revoke, and tell resource-server caches
    context.metrics         Prometheus counters (tessera.server.metrics); off unless asked for
    context.audit           the audit trail (tessera.server.audit)
    context.leak_keys       the keys that sign leak reports, if configured (tessera.server.leaks)
    context.changes         drop cached copies of what another process changed (tessera.server.changes)
    context.dpop            DPoP proofs at the token endpoint: replay cache, server nonces (tessera.server.dpop)
    context.keys            the ID-token signing keys and the JWKS (tessera.server.keys)
    context.clock           seconds since the epoch; tests replace it to move time
"""

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable

from tessera.config import Settings
from tessera.events import PublishError
from tessera.ratelimit import RateLimits
from tessera.server.audit import AuditTrail
from tessera.server.changes import Changes
from tessera.server.clients import ClientCache
from tessera.server.dpop import DPoP
from tessera.server.keys import Keyring
from tessera.server.leaks import ReportKeys
from tessera.server.metrics import Metrics
from tessera.store import Storage, Tokens

__all__ = ["Clock", "Revocations", "RevocationListener", "ServerContext"]

#: called with the access-token digests that were just revoked
RevocationListener = Callable[[list[str]], None]
Clock = Callable[[], float]

log = logging.getLogger("tessera.events")


class Revocations:
    """Every revocation of the server goes through here, so that every listener (the Redis publisher that
    resource-server caches subscribe to) hears of it."""

    def __init__(
        self, tokens: Tokens, listeners: Iterable[RevocationListener] = (), metrics: Metrics | None = None
    ) -> None:
        self._tokens = tokens
        self.listeners = list(listeners)
        self.metrics = metrics or Metrics.off()

    def revoke_grant(self, grant_id: str) -> list[str]:
        """Revoke every token of one authorization (the family); return the revoked access digests."""
        return self.revoked(self._tokens.revoke_grant(grant_id))

    def revoked(self, digests: list[str], *, subject: str | None = None, client_id: str | None = None) -> list[str]:
        """Count a revocation that ended live tokens (revoked by other means: the account page) and announce it:
        as one "not before" event when it was every token of ``subject`` and/or ``client_id``."""
        if digests:
            self.metrics.revoked()
        if subject is None and client_id is None:
            return self.announce(digests)
        return self.not_before(digests, subject=subject, client_id=client_id)

    def announce(self, digests: list[str]) -> list[str]:
        """Tell the listeners about tokens revoked by other means (a refresh token's rotation)."""
        if digests:
            for listener in self.listeners:
                listener(digests)
        return digests

    def not_before(self, digests: list[str], *, subject: str | None = None, client_id: str | None = None) -> list[str]:
        """Tell the listeners that every token of a user (``subject``, introspection's ``sub``), of a client, or of
        that user for that client, was revoked: ``digests``. A listener with a ``not_before`` method (the Redis
        publisher) sends one event for all of them, however many; any other is called with the digests."""
        if digests:
            for listener in self.listeners:
                hook = getattr(listener, "not_before", None)
                if hook is None:
                    listener(digests)
                    continue
                try:
                    hook(digests, subject=subject, client_id=client_id)
                except PublishError as exc:
                    log.warning("%s; %d revoked token(s) stay in caches until their TTL ends", exc, len(digests))
        return digests


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerContext:
    settings: Settings
    store: Storage
    clients: ClientCache
    rate_limits: RateLimits
    revocations: Revocations
    dpop: DPoP
    keys: Keyring
    changes: Changes = dataclasses.field(default_factory=Changes)
    leak_keys: ReportKeys | None = None
    clock: Clock = time.time
    metrics: Metrics = dataclasses.field(default_factory=Metrics.off)
    audit: AuditTrail = dataclasses.field(default_factory=AuditTrail.off)

    def now(self) -> int:
        """The clock in whole seconds, as every stored time is."""
        return int(self.clock())
