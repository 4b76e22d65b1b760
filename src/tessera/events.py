"""Events on Redis: the one wire format the authorization server and the CLI publish, and resource servers and
server processes read.

Two Redis streams (``XADD`` with a bounded length and age), each read by whoever needs it:

* **revocations**, at the key named by ``TESSERA_REVOCATION_CHANNEL`` (``tessera:revoked`` unless configured),
  for resource-server caches (:class:`tessera.resource.RevocationSubscriber`). An entry is either the SHA-256
  digests (:func:`tessera.tokens.digest`) of revoked access tokens (``kind=revoked``, at most
  :data:`MAX_DIGESTS_PER_MESSAGE` of them), or one "not before" event (``kind=not_before``) saying that every
  token of a user (``sub``, as introspection's ``sub``), of a client (``client_id``), or of both at once, was
  revoked: one entry however many tokens that was.
* **changes**, at ``<TESSERA_REDIS_PREFIX>:changes``, for the server processes' own caches: a client, a user or a
  signing key changed (``kind`` one of :data:`CHANGE_KINDS`, ``id`` which one).

A reader keeps the id of the last entry it applied and resumes from there after a disconnect
(:mod:`tessera.streams`); an entry is kept while the stream holds fewer than ``maxlen`` entries and for
``max_age`` seconds at least, and a reader that fell further behind empties its cache instead.

For one release the revoked digests also go, as before, on the Redis pub/sub channel of the same name: a JSON
array of 64-character lowercase hex strings per message (a "not before" event is sent there as the digests it
covers), so that resource servers of the previous release keep hearing them.

    >>> decode_revoked(encode_revoked(["ab" * 32]))
    ['abababababababababababababababababababababababababababababababab']
    >>> decode_entry(encode_entry(Changed("client", "billing")))
    Changed(kind='client', id='billing')

Digests, never tokens, travel: anyone who can read the streams learns nothing they can use. This module imports
only the standard library and redis, so the server, the CLI and the resource toolkit all share it without
importing each other. redis is imported only when a publisher is made: a server without ``TESSERA_REDIS_URL``
never loads it (about 6 MiB less per worker).
"""

import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence

__all__ = [
    "CHANGE_KINDS",
    "MAX_DIGESTS_PER_MESSAGE",
    "REVOCATION_CHANNEL",
    "STREAM_MAXLEN",
    "STREAM_MAX_AGE",
    "Changed",
    "Event",
    "MalformedEvent",
    "NotBefore",
    "PublishError",
    "RevocationPublisher",
    "Revoked",
    "changes_stream",
    "decode_entry",
    "decode_revoked",
    "encode_entry",
    "encode_revoked",
]

log = logging.getLogger("tessera.events")

#: the default stream and channel; ``TESSERA_REVOCATION_CHANNEL`` names another (several installations, one Redis)
REVOCATION_CHANNEL = "tessera:revoked"
#: 1000 digests make an entry of about 67 kB, far below anything Redis or a subscriber would choke on
MAX_DIGESTS_PER_MESSAGE = 1000
#: what a server process caches and must hear about when it changes elsewhere; a new kind is one more name here
#: and one ``on(kind, forget)`` where the cache is built (:func:`tessera.app.build`)
CHANGE_KINDS = ("client", "user", "key")
#: entries each stream keeps at least (approximately: Redis trims in whole nodes), and for how many seconds
STREAM_MAXLEN = 100_000
STREAM_MAX_AGE = 3600
#: how long a server process keeps what it could not publish (Redis away, a Sentinel failover) and sends it again
#: (every 0.1 s, backing off to 1 s), and how many digests and events it keeps at most (the oldest go first)
REDELIVER_FOR = 600.0
REDELIVER_MAX = 100_000

_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_ID = 512  # a client id, a subject or a key id on the wire; anything longer is not ours


def changes_stream(prefix: str) -> str:
    """The key of the changes stream for ``TESSERA_REDIS_PREFIX`` ``prefix``."""
    return f"{prefix}:changes"


class MalformedEvent(ValueError):
    """A message on the channel, or an entry in a stream, is not one this module writes."""


class PublishError(Exception):
    """Redis could not be reached to publish an event; the message says why, without the URL."""


@dataclasses.dataclass(frozen=True)
class Revoked:
    """These access tokens were revoked."""

    digests: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class NotBefore:
    """Every token of ``subject`` (a user's, as introspection's ``sub``), of ``client_id``, or of both together
    (one person's tokens for one app), issued before ``at`` (Unix seconds), was revoked."""

    subject: str | None
    client_id: str | None
    at: int

    def __post_init__(self) -> None:
        if self.subject is None and self.client_id is None:
            raise ValueError("a not-before event names a user, a client or both")


@dataclasses.dataclass(frozen=True)
class Changed:
    """The ``kind`` (one of :data:`CHANGE_KINDS`) named ``id`` changed or was deleted: drop any cached copy."""

    kind: str
    id: str


Event = Revoked | NotBefore | Changed


def encode_revoked(digests: Sequence[str]) -> bytes:
    """One pub/sub message carrying ``digests`` (callers split larger lists; :class:`RevocationPublisher` does)."""
    for value in digests:
        if not _DIGEST.fullmatch(value):
            raise ValueError("a revocation event carries SHA-256 hex digests only")
    return json.dumps(list(digests), separators=(",", ":")).encode("ascii")


def decode_revoked(payload: bytes | str) -> list[str]:
    """The digests in one pub/sub message; raise :class:`MalformedEvent` for anything else."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("revocation event is not JSON") from None
    if not isinstance(value, list) or not all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in value):
        raise MalformedEvent("revocation event is not a list of SHA-256 hex digests")
    return value


def encode_entry(event: Event) -> dict[str, str]:
    """The fields of the stream entry for ``event``."""
    if isinstance(event, Revoked):
        return {"kind": "revoked", "digests": encode_revoked(event.digests).decode("ascii")}
    if isinstance(event, NotBefore):
        fields = {"kind": "not_before", "at": str(event.at)}
        if event.subject is not None:
            fields["sub"] = event.subject
        if event.client_id is not None:
            fields["client_id"] = event.client_id
        return fields
    if event.kind not in CHANGE_KINDS:
        raise ValueError(f"unknown change kind {event.kind!r}")
    return {"kind": event.kind, "id": event.id}


def _text(fields: Mapping[str, str], name: str, *, required: bool = True) -> str | None:
    value = fields.get(name)
    if value is None:
        if required:
            raise MalformedEvent(f"stream entry has no {name!r}")
        return None
    if not value or len(value) > _MAX_ID or not value.isprintable():
        raise MalformedEvent(f"stream entry has a malformed {name!r}")
    return value


def decode_entry(raw: Mapping[bytes, bytes] | Mapping[str, str]) -> Event:
    """The event in one stream entry; raise :class:`MalformedEvent` for anything else."""
    try:
        fields = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
    except UnicodeDecodeError:
        raise MalformedEvent("stream entry is not UTF-8") from None
    kind = fields.get("kind")
    if kind == "revoked":
        return Revoked(tuple(decode_revoked(fields.get("digests", ""))))
    if kind == "not_before":
        at = fields.get("at", "")
        if not at.isdigit() or len(at) > 12:
            raise MalformedEvent("not-before event has no time")
        subject, client_id = _text(fields, "sub", required=False), _text(fields, "client_id", required=False)
        if subject is None and client_id is None:
            raise MalformedEvent("not-before event names neither a user nor a client")
        return NotBefore(subject, client_id, int(at))
    if kind in CHANGE_KINDS:
        return Changed(kind, _text(fields, "id") or "")
    raise MalformedEvent(f"stream entry of unknown kind {kind!r}"[:100])


@dataclasses.dataclass(frozen=True)
class _Batch:
    """What one call publishes: stream entries and, for one release, pub/sub messages; when it was first tried."""

    stream: str
    events: tuple[Event, ...]
    legacy: tuple[tuple[str, ...], ...]
    at: float

    @property
    def weight(self) -> int:
        """What keeping it costs, counted in events and digests."""
        return sum(len(e.digests) if isinstance(e, Revoked) else 1 for e in self.events) + sum(map(len, self.legacy))


class RevocationPublisher:
    """Publishes events on Redis: revocations (:meth:`publish`, :meth:`not_before`) on the revocation stream and,
    for one release, its pub/sub channel; changes (:meth:`changed`) on the changes stream. Called with a list of
    digests it is a revocation listener for :func:`tessera.app.create_app` (``on_revoke``).

    Publishing is on the request path of a revocation, so it never waits long: without Redis the tokens are
    still revoked in the database, and caches drop them within their TTL bound. Timeouts are short and
    redis-py's retries are off for the same reason. Each call is one round trip (a pipeline). (An idle connection
    that Redis, or Sentinel in a failover, closed is replaced when it is taken from the pool, before it is used.)

    With ``redeliver_for`` (seconds; the server uses :data:`REDELIVER_FOR`), what could not be published is kept
    instead of raising :class:`PublishError`, and a thread sends it again as soon as Redis answers (a failover's
    few seconds, a restart), so caches drop those tokens then rather than at the end of their TTL. What is older
    than ``redeliver_for``, or beyond ``redeliver_max`` digests and events, is given up, with a warning.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        channel: str = REVOCATION_CHANNEL,
        changes: str | None = None,
        maxlen: int = STREAM_MAXLEN,
        max_age: int = STREAM_MAX_AGE,
        timeout: float = 0.5,
        redeliver_for: float = 0.0,
        redeliver_max: int = REDELIVER_MAX,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from tessera.redisurl import client

        self.channel = channel
        self.changes = changes or changes_stream("tessera")
        self._maxlen = maxlen
        self._max_age = max_age
        self._failures = (redis.RedisError, OSError)
        self._redis = client(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._redeliver_for = redeliver_for
        self._redeliver_max = redeliver_max
        self._kept: list[_Batch] = []
        self._weight = 0  # of what is kept
        self._away = False  # an outage began: its first failure was logged
        self._lock = threading.Lock()
        self._sender: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def pending(self) -> int:
        """How many events and digests are kept, waiting for Redis."""
        return self._weight

    def publish(self, digests: Sequence[str]) -> int:
        """Publish ``digests``; return how many pub/sub subscribers received the (last) message.

        Raises :class:`PublishError` when Redis cannot be reached.
        """
        chunks = [
            tuple(digests[i : i + MAX_DIGESTS_PER_MESSAGE]) for i in range(0, len(digests), MAX_DIGESTS_PER_MESSAGE)
        ]
        return self._send(self.channel, [Revoked(chunk) for chunk in chunks], chunks)

    def not_before(
        self, digests: Sequence[str], *, subject: str | None = None, client_id: str | None = None, at: int | None = None
    ) -> int:
        """One "not before" event for every token of ``subject`` and/or ``client_id``; ``digests`` (those revoked)
        go on the pub/sub channel only, for resource servers of the previous release. Raises :class:`PublishError`."""
        event = NotBefore(subject, client_id, int(time.time()) if at is None else at)
        chunks = [
            tuple(digests[i : i + MAX_DIGESTS_PER_MESSAGE]) for i in range(0, len(digests), MAX_DIGESTS_PER_MESSAGE)
        ]
        return self._send(self.channel, [event], chunks)

    def changed(self, kind: str, id: str) -> None:
        """Tell every server process that this client, user or key changed. Raises :class:`PublishError`."""
        self._send(self.changes, [Changed(kind, id)], [])

    def _send(self, stream: str, events: Sequence[Event], legacy: Sequence[Sequence[str]]) -> int:
        batch = _Batch(stream, tuple(events), tuple(tuple(chunk) for chunk in legacy), time.monotonic())
        try:
            return self._execute([batch])
        except PublishError as exc:
            if self._redeliver_for <= 0:
                raise
            self._keep(batch, str(exc))
            return 0

    def _execute(self, batches: Sequence[_Batch]) -> int:
        """Send ``batches`` in one pipeline; the number of pub/sub subscribers of the last message."""
        pipe = self._redis.pipeline(transaction=False)
        for batch in batches:
            for event in batch.events:
                pipe.xadd(batch.stream, encode_entry(event), maxlen=self._maxlen, approximate=True)  # type: ignore[arg-type]
            if batch.events:
                # age, besides length: ids are milliseconds since the epoch, so MINID keeps what is younger
                pipe.xtrim(batch.stream, minid=f"{int((time.time() - self._max_age) * 1000)}-0", approximate=True)
            for chunk in batch.legacy:
                pipe.publish(self.channel, encode_revoked(chunk))
        try:
            results = pipe.execute()
        except self._failures as exc:
            raise PublishError(f"could not publish on Redis: {type(exc).__name__}") from exc
        return int(results[-1]) if batches[-1].legacy else 0

    def _keep(self, batch: _Batch, why: str) -> None:
        """Keep ``batch`` after what is kept already; start the sender if none runs. The first failure of an
        outage is logged (``why``), not every one."""
        with self._lock:
            first, self._away = not self._away, True
            self._kept.append(batch)
            self._weight += batch.weight
            given_up = self._trim(time.monotonic())
            if self._sender is None and not self._closing.is_set():
                self._sender = threading.Thread(target=self._redeliver, name="tessera-redeliver", daemon=True)
                self._sender.start()
        if first:
            log.warning(
                "%s; sending it again when Redis answers (caches keep those tokens till then, at most their TTL)", why
            )
        self._report_given_up(given_up)

    def _trim(self, now: float) -> int:
        """Drop what is too old or too much, the oldest first (under the lock); how many events and digests."""
        dropped = cut = 0
        for batch in self._kept:
            if now - batch.at <= self._redeliver_for and self._weight - dropped <= self._redeliver_max:
                break
            dropped += batch.weight
            cut += 1
        del self._kept[:cut]
        self._weight -= dropped
        return dropped

    def _report_given_up(self, dropped: int) -> None:
        if dropped:
            log.warning(
                "events: gave up publishing %d event(s) and digest(s) kept while Redis was away; caches keep those "
                "tokens until their TTL ends",
                dropped,
            )

    def _redeliver(self) -> None:
        """The sender: the oldest kept batches, up to 100 a pipeline, until none is left. A batch stays kept until
        Redis took it, so :attr:`pending` counts it meanwhile."""
        wait = 0.1
        while not self._closing.wait(wait):
            with self._lock:
                given_up = self._trim(time.monotonic())
                batches = self._kept[:100]
                if not batches:
                    self._sender = None
            self._report_given_up(given_up)
            if not batches:
                return
            try:
                self._execute(batches)
            except PublishError:
                wait = min(wait * 2, 1.0)
                continue
            sent = {id(batch) for batch in batches}
            with self._lock:
                self._kept = [batch for batch in self._kept if id(batch) not in sent]
                self._weight = sum(batch.weight for batch in self._kept)
                self._away = bool(self._kept)
            if self._away:
                wait = 0.0  # the next slice at once
                continue
            log.info("events: Redis answers again; sent what was kept while it was away")
            wait = 0.1

    def __call__(self, digests: list[str]) -> None:
        try:
            self.publish(digests)
        except PublishError as exc:
            log.warning(
                "%s; %d revoked token(s) stay in resource-server caches until their TTL ends", exc, len(digests)
            )

    def close(self) -> None:
        self._closing.set()
        sender = self._sender
        if sender is not None:
            sender.join(timeout=2)
        if left := self.pending:
            log.warning(
                "events: %d event(s) and digest(s) were never published; caches keep those tokens until their TTL ends",
                left,
            )
        self._redis.close()
