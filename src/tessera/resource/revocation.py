"""Revocation pushed to every cache: a Redis stream reader that drops revoked tokens from :class:`TokenCache`\\ s.

    >>> subscriber = RevocationSubscriber("redis://127.0.0.1:6379/0", cache)  # doctest: +SKIP
    >>> subscriber.start()                                                    # doctest: +SKIP

The authorization server and the CLI add an entry to the revocation stream (:mod:`tessera.events`) for every
revocation: the digests of the tokens revoked, or one "not before" event when every token of a user or a client
was (``tessera tokens revoke --user``, ``users disable``, ``clients delete``...). This thread reads them and drops
what they name from its caches (:meth:`TokenCache.drop_matching` for a "not before" event: the matching entries
only, however many tokens the user holds), so a revoked token is refused everywhere within milliseconds.

Nothing is missed within the stream's retention (:mod:`tessera.streams`):

* while it is disconnected, cached entries live out their TTL (the cache's ``ttl`` is the worst case) and the
  API keeps serving all along;
* it reconnects by itself (backing off from 0.1 s up to ``max_backoff``) and reads, from where it left off,
  every event it missed, applying each one: the rest of the cache stays warm;
* if it fell so far behind that entries were trimmed before it read them (the stream keeps 100,000 entries and
  an hour by default), it empties its caches instead of serving what may be stale.

For one release it also listens on the old pub/sub channel of the same name (``legacy=True``), so that it hears an
authorization server of the previous release, which publishes only there (and then, as before, empties its caches
on every reconnection, since pub/sub keeps nothing for absent listeners).

Start it after the process forks (in each worker process, in a FastAPI lifespan): a thread does not survive
``fork``. It is a daemon thread; :meth:`RevocationSubscriber.stop` ends it cleanly, and :meth:`start` again resumes
where it stopped.
"""

import logging

from tessera.events import REVOCATION_CHANNEL, MalformedEvent, NotBefore, Revoked, decode_entry, decode_revoked
from tessera.resource.cache import TokenCache
from tessera.streams import Entry, StreamFollower

__all__ = ["RevocationSubscriber"]

log = logging.getLogger("tessera.resource")


class RevocationSubscriber:
    """Reads the revocation stream ``channel`` and drops what it names from each of ``caches``. Thread-safe."""

    def __init__(
        self,
        redis_url: str,
        *caches: TokenCache,
        channel: str = REVOCATION_CHANNEL,
        legacy: bool = True,
        max_backoff: float = 2.0,
        ping_interval: float = 5.0,
        timeout: float = 2.0,
    ) -> None:
        self.channel = channel
        self.caches = caches
        self._follower = StreamFollower(
            redis_url,
            channel,
            apply=self._apply,
            reset=self._clear,
            legacy_channel=channel if legacy else None,
            legacy=self._legacy,
            logger=log,
            name="tessera-revocation-subscriber",
            max_backoff=max_backoff,
            ping_interval=ping_interval,
            timeout=timeout,
        )

    @property
    def subscribed(self) -> bool:
        """Whether revocations are being received right now (a health check may report it)."""
        return self._follower.connected

    @property
    def gaps(self) -> int:
        """How many times events were lost to it (trimmed before it read them) and it emptied its caches."""
        return self._follower.gaps

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until subscribed, at most ``timeout`` seconds; return whether it is."""
        return self._follower.wait_connected(timeout)

    def start(self) -> None:
        """Start listening in a daemon thread; returns at once, even if Redis is down."""
        self._follower.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait for the thread to end."""
        self._follower.stop(timeout)

    def __enter__(self) -> "RevocationSubscriber":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _apply(self, entries: list[Entry]) -> None:
        for entry_id, fields in entries:
            try:
                event = decode_entry(fields)
            except MalformedEvent as exc:
                log.warning("revocation events: ignored entry %s of %s: %s", entry_id, self.channel, exc)
                continue
            for cache in self.caches:
                if isinstance(event, Revoked):
                    cache.drop(event.digests)
                elif isinstance(event, NotBefore):
                    cache.drop_matching(subject=event.subject, client_id=event.client_id)

    def _legacy(self, payload: bytes) -> None:
        try:
            digests = decode_revoked(payload)
        except MalformedEvent as exc:
            log.warning("revocation events: ignored a message on %s: %s", self.channel, exc)
            return
        for cache in self.caches:
            cache.drop(digests)

    def _clear(self, why: str) -> None:
        for cache in self.caches:
            cache.clear()
