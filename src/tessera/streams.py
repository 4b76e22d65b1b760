"""Following a Redis stream from a remembered position: what resource servers and server processes use to hear
:mod:`tessera.events` and never miss one within the stream's retention.

    >>> follower = StreamFollower(redis_url, "tessera:revoked", apply=..., reset=...)   # doctest: +SKIP
    >>> follower.start()                                                                 # doctest: +SKIP

A daemon thread reads with ``XREAD BLOCK`` from the id of the last entry it handed to ``apply``, so a
disconnect, a Redis restart or a slow consumer loses nothing: it reconnects by itself (backing off from 0.1 s to
``max_backoff``) and goes on from there. Each reader keeps its own position, in its own memory: every process
needs every event (no consumer group, which would share them out), and a process that starts afresh has nothing
cached to correct.

What it cannot read, it does not pretend to have read. It counts the entries it has read; ``XINFO STREAM`` says
how many were ever added and how many are left, so how many were trimmed away, always the oldest first. When more
were trimmed than it had read, some it never saw are gone (it fell behind the stream's length or age bound); when
the stream vanished or holds fewer entries than it read (Redis lost its data), the same: it calls ``reset`` (empty
the caches) and goes on from the present. It checks on every connection and after every batch of entries, so
nothing trimmed between two reads escapes it. (This needs Redis 7, which counts entries added; before it, the
oldest entry still there is compared with the position, which errs on the side of emptying the cache.)
When it starts, it calls ``reset`` once and begins at the stream's end: whatever happened before is unknown.

For one release it may also listen on a pub/sub channel (``legacy_channel``, with ``legacy`` called for each
message), as resource servers did before the stream; a message there cannot be caught up on, so when no stream
exists to resume from (a server of the previous release) every reconnection calls ``reset``, as before.

Start it after the process forks: a thread does not survive ``fork``. :meth:`StreamFollower.stop` ends it.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tessera.redisurl import client

__all__ = ["StreamFollower"]

_BLOCK_MS = 250  # how long one XREAD waits for news; also how often the thread looks at its stop flag
_BATCH = 500
_FIRST_BACKOFF = 0.1

Entry = tuple[str, dict[bytes, bytes]]


class _Lost(Exception):
    """The connection to Redis is gone or no longer answers."""


def _id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class StreamFollower:
    """Reads ``stream`` from where it left off; calls ``apply`` with each batch, ``reset`` when it cannot."""

    def __init__(
        self,
        redis_url: str,
        stream: str,
        *,
        apply: Callable[[list[Entry]], None],
        reset: Callable[[str], None],
        legacy_channel: str | None = None,
        legacy: Callable[[bytes], None] | None = None,
        logger: logging.Logger | None = None,
        name: str = "tessera-events",
        max_backoff: float = 2.0,
        ping_interval: float = 5.0,
        timeout: float = 2.0,
    ) -> None:
        self.stream = stream
        self._apply = apply
        self._reset = reset
        self._legacy_channel = legacy_channel
        self._legacy = legacy
        self._log = logger or logging.getLogger("tessera.events")
        self._name = name
        # built here so that a malformed URL fails in the caller, not in the thread; connects only when used
        self._redis = client(
            redis_url,
            socket_connect_timeout=timeout,
            socket_timeout=max(timeout, _BLOCK_MS / 1000 + timeout),  # a blocked XREAD is not a dead connection
            retry=Retry(NoBackoff(), 0),  # reconnecting is the thread's job, with its own backoff
        )
        self._max_backoff = max_backoff
        self._ping_interval = ping_interval
        self._timeout = timeout
        self._position: str | None = None
        self._read = 0  # entries of the stream up to the position, as Redis counts them ("entries-added")
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        #: how many times it had to reset because entries were lost to it (besides the reset at start)
        self.gaps = 0

    @property
    def position(self) -> str | None:
        """The id of the last entry applied (``None`` before the first connection)."""
        return self._position

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Start following in a daemon thread; returns at once, even if Redis is down."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the thread to end; :meth:`start` again resumes from the same position."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._redis.close()

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF
        reported = False
        while not self._stopping.is_set():
            pubsub = None
            try:
                if self._legacy_channel is not None:
                    pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
                    pubsub.subscribe(self._legacy_channel)
                    if pubsub.get_message(timeout=self._timeout) is None:  # the subscription's confirmation
                        raise _Lost("no confirmation of the subscription")
                self._catch_up(reconnected=self._position is not None, legacy=pubsub is not None)
                while self._next(None):  # what was missed, before saying it is connected
                    pass
                self._connected.set()
                if reported:
                    self._log.info("events: Redis is back; following %s again", self.stream)
                backoff, reported = _FIRST_BACKOFF, False
                self._follow(pubsub)
            except (_Lost, redis.RedisError, OSError) as exc:
                if not reported:
                    self._log.warning(
                        "events: Redis unreachable (%s); cached copies live up to their TTL till it is back",
                        type(exc).__name__,
                    )
                    reported = True
            except Exception:
                # a bug must not end the events for the rest of the process's life
                self._log.exception("events: unexpected error; reconnecting")
                self._reset_all("unexpected error")
            finally:
                self._connected.clear()
                if pubsub is not None:
                    pubsub.close()
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self._max_backoff)

    def _info(self) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self._redis.xinfo_stream(self.stream)
        except redis.ResponseError:  # no such key: nothing was ever written, or Redis lost it
            return None
        return info

    def _catch_up(self, *, reconnected: bool, legacy: bool) -> None:
        """On each connection: where to read from, and whether what was missed can still be read."""
        info = self._info()
        if self._position is None:
            self._present(info)
            self._reset_all("start")
            return
        if info is None:
            if self._read > 0:
                self._gap("the stream is gone")
                self._present(None)
            elif reconnected and legacy:
                self._reset_all("pub/sub messages may have been missed")
            return
        self._check(info)

    def _present(self, info: dict[str, Any] | None) -> None:
        """Go on from the stream's end."""
        self._position = "0-0" if info is None else _text(info["last-generated-id"])
        self._read = 0 if info is None else int(info.get("entries-added") or 0)

    def _check(self, info: dict[str, Any]) -> bool:
        """Whether every entry after the position can still be read; if not, reset and go on from the end."""
        assert self._position is not None
        added = info.get("entries-added")
        if added is None:  # Redis before 7: the oldest entry still there tells, more coarsely
            first = info.get("first-entry")
            lost = first is not None and _id(first[0]) > _id(self._position) and self._read > 0
        else:
            trimmed = int(added) - int(info["length"])  # always the oldest: trimming never leaves holes
            first = info.get("first-entry")
            # a stream made anew (Redis lost its data) counts from 0 again: it has fewer entries than were read,
            # or none up to the position although fewer than were read were trimmed
            recreated = int(added) < self._read or (
                first is not None and _id(first[0]) > _id(self._position) and trimmed < self._read
            )
            lost = trimmed > self._read or recreated
        if lost:
            self._gap("entries were trimmed before they were read")
            self._present(info)
        return not lost

    def _gap(self, why: str) -> None:
        self.gaps += 1
        self._log.warning("events: fell behind %s (%s); emptying the cache", self.stream, why)
        self._reset_all(why)

    def _reset_all(self, why: str) -> None:
        self._reset(why)

    def _next(self, block: int | None) -> bool:
        """One XREAD from the position (waiting up to ``block`` ms for news); apply it; whether anything came."""
        assert self._position is not None
        answer: Any = self._redis.xread({self.stream: self._position}, count=_BATCH, block=block)
        if not answer:
            return False
        entries: list[Entry] = [(_text(i), fields) for i, fields in answer[0][1]]
        info = self._info()
        if info is None:
            raise _Lost("the stream vanished while being read")
        self._read += len(entries)
        self._position = entries[-1][0]
        if self._check(info):
            self._apply(entries)
        return True

    def _follow(self, pubsub: Any) -> None:
        heard = time.monotonic()
        ping_sent: float | None = None
        while not self._stopping.is_set():
            self._next(_BLOCK_MS)
            if pubsub is None:
                continue
            now = time.monotonic()
            while (message := pubsub.get_message(timeout=0)) is not None:
                heard, ping_sent = now, None
                if message["type"] == "message" and self._legacy is not None:
                    self._legacy(message["data"])
            if ping_sent is not None and now - ping_sent > self._timeout:
                raise _Lost("no answer to a ping")
            if ping_sent is None and now - heard > self._ping_interval:
                pubsub.ping()
                ping_sent = now


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
