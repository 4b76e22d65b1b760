"""Revocation events: the one wire format the authorization server publishes and resource servers read.

When ``TESSERA_REDIS_URL`` is set, every revocation (RFC 7009, refresh-token reuse, code replay, the CLI)
publishes the SHA-256 digests (:func:`tessera.tokens.digest`) of the access tokens it revoked on a Redis
pub/sub channel, ``tessera:revoked`` unless configured otherwise. A message is a JSON array of 64-character
lowercase hex strings, at most :data:`MAX_DIGESTS_PER_MESSAGE` of them; a larger revocation is sent as several
messages. Digests, never tokens, travel: anyone who can read the channel learns nothing they can use.

    >>> decode_revoked(encode_revoked(["ab" * 32]))
    ['abababababababababababababababababababababababababababababababab']

Pub/sub is fire-and-forget: a subscriber that is disconnected when a message is sent never sees it, which is
why resource-server caches keep a TTL bound as well (see :mod:`tessera.resource.revocation`).

This module imports only the standard library and redis, so the server, the CLI and the resource toolkit can
all share it without importing each other. redis is imported only when a publisher is made: a server without
``TESSERA_REDIS_URL`` never loads it (about 6 MiB less per worker).
"""

import json
import logging
import re
from collections.abc import Sequence

__all__ = [
    "MAX_DIGESTS_PER_MESSAGE",
    "REVOCATION_CHANNEL",
    "MalformedEvent",
    "PublishError",
    "RevocationPublisher",
    "decode_revoked",
    "encode_revoked",
]

log = logging.getLogger("tessera.events")

#: the default channel; ``TESSERA_REVOCATION_CHANNEL`` names another (several installations on one Redis)
REVOCATION_CHANNEL = "tessera:revoked"
#: 1000 digests make a message of about 67 kB, far below anything Redis or a subscriber would choke on
MAX_DIGESTS_PER_MESSAGE = 1000

_DIGEST = re.compile(r"[0-9a-f]{64}")


class MalformedEvent(ValueError):
    """A message on the channel is not a JSON array of access-token digests."""


class PublishError(Exception):
    """Redis could not be reached to publish a revocation; the message says why, without the URL."""


def encode_revoked(digests: Sequence[str]) -> bytes:
    """One message carrying ``digests`` (callers split larger lists; :class:`RevocationPublisher` does)."""
    for value in digests:
        if not _DIGEST.fullmatch(value):
            raise ValueError("a revocation event carries SHA-256 hex digests only")
    return json.dumps(list(digests), separators=(",", ":")).encode("ascii")


def decode_revoked(payload: bytes | str) -> list[str]:
    """The digests in one message; raise :class:`MalformedEvent` for anything else."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("revocation event is not JSON") from None
    if not isinstance(value, list) or not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in value):
        raise MalformedEvent("revocation event is not a list of SHA-256 hex digests")
    return value


class RevocationPublisher:
    """Publishes revoked access-token digests on Redis. Call it with a list of digests: it is a revocation
    listener for :func:`tessera.app.create_app` (``on_revoke``).

    Publishing is on the request path of a revocation, so it never waits long and never raises from
    ``__call__``: without Redis the tokens are still revoked in the database, and resource-server caches drop
    them within their TTL bound. Timeouts are short and redis-py's retries are off for the same reason.
    """

    def __init__(self, redis_url: str, *, channel: str = REVOCATION_CHANNEL, timeout: float = 0.5) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.channel = channel
        self._failures = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def publish(self, digests: Sequence[str]) -> int:
        """Publish ``digests``; return how many subscribers received the (last) message.

        Raises :class:`PublishError` when Redis cannot be reached.
        """
        received = 0
        try:
            for start in range(0, len(digests), MAX_DIGESTS_PER_MESSAGE):
                payload = encode_revoked(digests[start : start + MAX_DIGESTS_PER_MESSAGE])
                received = int(self._redis.publish(self.channel, payload))
        except self._failures as exc:
            raise PublishError(f"could not publish on Redis: {type(exc).__name__}") from exc
        return received

    def __call__(self, digests: list[str]) -> None:
        try:
            self.publish(digests)
        except PublishError as exc:
            log.warning(
                "%s; %d revoked token(s) stay in resource-server caches until their TTL ends", exc, len(digests)
            )

    def close(self) -> None:
        self._redis.close()
