"""A bounded cache of token answers in front of a :class:`~tessera.resource.core.TokenSource`.

    >>> cache = TokenCache(LocalSource.from_url("sqlite:///tessera.db"), ttl=60)  # doctest: +SKIP

* Keyed by the token's SHA-256 digest; the token itself is never kept.
* An active token lives ``min(ttl, its remaining lifetime)`` seconds, so nothing outlives its expiry or the
  configured bound. ``ttl`` is the worst-case staleness after a revocation when revocation events are not
  received (no Redis, or Redis down); with :class:`~tessera.resource.revocation.RevocationSubscriber` running,
  a revoked token is dropped within milliseconds.
* "Not active" is cached only ``negative_ttl`` seconds (2 by default): long enough to absorb a client retrying
  a dead token in a loop, short enough that no valid token is refused for long (a token is never "not active"
  first and active later, except on a lagging read replica). Tokens that fail the checksum never get here.
* Least recently used entries go first beyond ``max_entries``, so memory stays bounded whatever clients send.
* ``ttl=0`` turns the cache off: every lookup goes to the source.
* An entry is the source's :class:`~tessera.resource.core.AccessToken`, audience included, and the validator
  checks audience, expiry and scopes on every hit: validators with different audiences can share one cache.
* Active entries are indexed by user (``subject`` of a token with a ``username``) and by client, so that a
  "not before" event (every token of a user, a client, or one user's tokens for one client) drops exactly the
  matching entries (:meth:`TokenCache.drop_matching`), in time proportional to how many there are, however many
  tokens that user or client holds elsewhere.

Thread-safe: one lock around dictionary operations, never held during I/O. A revocation that arrives while a
lookup is in flight wins: the answer is returned to that one request but not cached.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Literal

from tessera.resource.core import MISS, AccessToken, TokenSource, _Miss

__all__ = ["TokenCache"]


class TokenCache:
    """A :class:`~tessera.resource.core.TokenSource` that remembers what ``source`` answered."""

    def __init__(
        self,
        source: TokenSource,
        *,
        ttl: float = 60.0,
        max_entries: int = 10_000,
        negative_ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl < 0 or negative_ttl < 0:
            raise ValueError("cache TTLs cannot be negative")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.source = source
        self.ttl = float(ttl)
        self.negative_ttl = min(float(negative_ttl), self.ttl)
        self.max_entries = max_entries
        self._clock = clock
        self._wall_clock = wall_clock
        self._entries: OrderedDict[str, tuple[float, AccessToken | None]] = OrderedDict()
        # the digests of the cached active tokens of each user (by subject) and of each client: one digest as
        # itself, a set only from the second on (most users have one token cached; a set costs 216 bytes)
        self._by_user: dict[str, str | set[str]] = {}
        self._by_client: dict[str, str | set[str]] = {}
        self._lock = threading.Lock()
        # bumped by every drop and clear; an answer fetched across a bump is not cached (see lookup)
        self._generation = 0

    def lookup(self, token: str, token_digest: str) -> AccessToken | None:
        if self.ttl == 0:
            return self.source.lookup(token, token_digest)
        hit = self.cached(token_digest)
        if hit is not MISS:
            return hit
        generation = self._generation
        found = self.source.lookup(token, token_digest)
        self._remember(token_digest, found, generation)
        return found

    def cached(self, token_digest: str) -> AccessToken | None | Literal[_Miss.MISS]:
        """The cached answer for ``token_digest`` (``None``: known not to be active), or ``MISS``; no I/O."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(token_digest)
            if entry is None:
                return MISS
            if entry[0] <= now:
                del self._entries[token_digest]
                self._unindex(token_digest, entry[1])
                return MISS
            self._entries.move_to_end(token_digest)
            return entry[1]

    def drop(self, token_digests: Iterable[str]) -> int:
        """Forget these tokens (they were revoked); return how many were cached."""
        dropped = 0
        with self._lock:
            self._generation += 1
            for token_digest in token_digests:
                entry = self._entries.pop(token_digest, None)
                if entry is not None:
                    self._unindex(token_digest, entry[1])
                    dropped += 1
        return dropped

    def drop_matching(self, *, subject: str | None = None, client_id: str | None = None) -> int:
        """Forget every cached token of the user ``subject``, of ``client_id``, or, given both, of that user for
        that client (a "not before" event); return how many. Costs what the matching entries cost, no more."""
        if subject is None and client_id is None:
            raise ValueError("name a subject, a client or both")
        with self._lock:
            self._generation += 1
            by_user = _members(self._by_user, subject) if subject is not None else None
            by_client = _members(self._by_client, client_id) if client_id is not None else None
            if by_user is not None and by_client is not None:
                small, large = sorted((by_user, by_client), key=len)
                matching = [d for d in small if d in large]
            else:
                matching = list(by_user if by_user is not None else by_client or ())
            for token_digest in matching:
                entry = self._entries.pop(token_digest, None)
                if entry is not None:
                    self._unindex(token_digest, entry[1])
            return len(matching)

    def clear(self) -> None:
        """Forget everything (revocation events may have been missed)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._by_user.clear()
            self._by_client.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _remember(self, token_digest: str, found: AccessToken | None, generation: int) -> None:
        if found is None:
            lifetime = self.negative_ttl
        else:
            lifetime = min(self.ttl, found.expires_at - self._wall_clock())
        if lifetime <= 0:
            return
        deadline = self._clock() + lifetime
        with self._lock:
            if found is not None and generation != self._generation:
                return  # a drop or clear happened while the source answered: that answer may be stale already
            old = self._entries.get(token_digest)
            if old is not None:
                self._unindex(token_digest, old[1])
            self._entries[token_digest] = (deadline, found)
            self._entries.move_to_end(token_digest)
            if found is not None:
                if found.username is not None:
                    _add(self._by_user, found.subject, token_digest)
                _add(self._by_client, found.client_id, token_digest)
            while len(self._entries) > self.max_entries:
                evicted, (_, token) = self._entries.popitem(last=False)
                self._unindex(evicted, token)

    def _unindex(self, token_digest: str, token: AccessToken | None) -> None:
        """Take a removed entry out of the indexes; the caller holds the lock."""
        if token is None:
            return
        if token.username is not None:
            _discard(self._by_user, token.subject, token_digest)
        _discard(self._by_client, token.client_id, token_digest)


def _members(index: dict[str, str | set[str]], key: str) -> set[str]:
    digests = index.get(key)
    if digests is None:
        return set()
    return {digests} if isinstance(digests, str) else digests


def _add(index: dict[str, str | set[str]], key: str, token_digest: str) -> None:
    digests = index.get(key)
    if digests is None:
        index[key] = token_digest
    elif isinstance(digests, str):
        if digests != token_digest:
            index[key] = {digests, token_digest}
    else:
        digests.add(token_digest)


def _discard(index: dict[str, str | set[str]], key: str, token_digest: str) -> None:
    digests = index.get(key)
    if digests is None:
        return
    if isinstance(digests, str):
        if digests == token_digest:
            del index[key]
        return
    digests.discard(token_digest)
    if len(digests) == 1:
        index[key] = digests.pop()
    elif not digests:
        del index[key]
