"""Revocation pushed to every cache: a Redis subscriber that drops revoked tokens from :class:`TokenCache`\\ s.

    >>> subscriber = RevocationSubscriber("redis://127.0.0.1:6379/0", cache)  # doctest: +SKIP
    >>> subscriber.start()                                                    # doctest: +SKIP

The authorization server publishes the digests of every token it revokes (:mod:`tessera.events`); this thread
hears them and drops them from its caches, so a revoked token is refused everywhere within milliseconds.

Redis pub/sub does not queue for absent listeners, so the subscriber makes up for what it may have missed:
* while it is disconnected, cached entries live out their TTL: the cache's ``ttl`` is the worst-case
  staleness, and the API keeps serving all along;
* it reconnects by itself (backing off from 0.1 s up to ``max_backoff``), and every time it is subscribed
  again it clears its caches, so nothing revoked during the outage outlives the reconnection;
* it pings Redis when the channel has been quiet for ``ping_interval`` seconds and reconnects if no answer
  comes back, so a connection that died silently is noticed too.

Start it after the process forks (in each worker process, in a FastAPI lifespan): a thread does not survive
``fork``. It is a daemon thread; :meth:`RevocationSubscriber.stop` ends it cleanly.
"""

import logging
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tessera.events import REVOCATION_CHANNEL, MalformedEvent, decode_revoked
from tessera.resource.cache import TokenCache

__all__ = ["RevocationSubscriber"]

log = logging.getLogger("tessera.resource")

_POLL = 0.25  # how often the thread looks at its stop flag while the channel is quiet
_FIRST_BACKOFF = 0.1


class _Lost(Exception):
    """The connection to Redis is gone or no longer answers."""


class RevocationSubscriber:
    """Listens on ``channel`` and drops the revoked digests from each of ``caches``. Thread-safe."""

    def __init__(
        self,
        redis_url: str,
        *caches: TokenCache,
        channel: str = REVOCATION_CHANNEL,
        max_backoff: float = 2.0,
        ping_interval: float = 5.0,
        timeout: float = 2.0,
    ) -> None:
        self.channel = channel
        self.caches = caches
        # built here so that a malformed URL fails in the caller, not in the thread; connects only when used
        self._redis = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # reconnecting is the thread's job, with its own backoff
        )
        self._max_backoff = max_backoff
        self._ping_interval = ping_interval
        self._timeout = timeout
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def subscribed(self) -> bool:
        """Whether revocations are being received right now (a health check may report it)."""
        return self._subscribed.is_set()

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until subscribed, at most ``timeout`` seconds; return whether it is."""
        return self._subscribed.wait(timeout)

    def start(self) -> None:
        """Start listening in a daemon thread; returns at once, even if Redis is down."""
        if self._thread is not None:
            raise RuntimeError("the subscriber is already started")
        self._thread = threading.Thread(target=self._run, name="tessera-revocation-subscriber", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait for the thread to end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._redis.close()

    def __enter__(self) -> "RevocationSubscriber":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        reported = False
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                self._listen(pubsub)
            except (_Lost, redis.RedisError, OSError) as exc:
                if self._subscribed.is_set():  # it worked until now: retry soon, and say so again
                    backoff, reported = _FIRST_BACKOFF, False
                if not reported:
                    log.warning(
                        "revocation events: Redis unreachable (%s); cached tokens live up to their TTL till it is back",
                        type(exc).__name__,
                    )
                    reported = True
            except Exception:
                # a bug must not end revocation events for the rest of the process's life
                log.exception("revocation events: unexpected error; reconnecting")
            finally:
                self._subscribed.clear()
                pubsub.close()
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self._max_backoff)

    def _listen(self, pubsub: Any) -> None:
        heard = time.monotonic()
        ping_sent: float | None = None
        while not self._stopping.is_set():
            message = pubsub.get_message(timeout=_POLL)
            now = time.monotonic()
            if message is not None:
                heard, ping_sent = now, None
                self._handle(message)
            elif ping_sent is not None and now - ping_sent > self._timeout:
                raise _Lost("no answer to a ping")
            elif ping_sent is None and now - heard > self._ping_interval:
                pubsub.ping()
                ping_sent = now

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            # whatever was published while we were away is lost: start from a clean slate
            for cache in self.caches:
                cache.clear()
            self._subscribed.set()
            log.info("revocation events: subscribed to %s", self.channel)
        elif kind == "message":
            try:
                digests = decode_revoked(message["data"])
            except MalformedEvent as exc:
                log.warning("revocation events: ignored a message on %s: %s", self.channel, exc)
                return
            for cache in self.caches:
                cache.drop(digests)
