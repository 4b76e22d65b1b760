"""Rate limits on failed sign-ins and on the machine endpoints, counted by the ``limits`` library.

* **Failed sign-ins**, per account and per client address (RFC 9700 §4.16 leaves it to us; OWASP's advice).
  Each limit is a ladder of windows, e.g. ``5/minute;10/10minutes;20/hour;100/day``: once a rung is full, the
  next attempt waits until its window frees a slot, and every rung is a longer wait, so an attacker who keeps
  going backs off from a minute to ten minutes to an hour to a day, while a person who mistyped a few times
  waits at most a minute. Only failures count, and a success clears the account's count (not the address's,
  or signing in to one's own account would reset the budget for guessing others'). Usernames are counted
  whether or not the account exists, so the answer never tells which accounts exist.
* **Token and introspection requests, per authenticated client** (off unless configured). Counted after the
  client has authenticated, so nobody can use up another client's budget by sending its client_id.

Counters live in this process, or in Redis when ``TESSERA_REDIS_URL`` is set so that every server process
shares one budget. Redis being unreachable never stops anyone from signing in or getting a token: the check
falls back to this process's own counters for a few seconds and logs it once per outage.

    >>> limits = RateLimits(Settings(login_limit_account="2/minute"))
    >>> limits.login_failed("alice", "192.0.2.1"); limits.login_failed("alice", "192.0.2.1")
    >>> limits.login_allowed("alice", "192.0.2.1").allowed
    False
"""

import dataclasses
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter

from tessera.config import Settings, parse_limits
from tessera.tokens import digest

__all__ = ["RateLimits", "Verdict", "address_key", "parse_limits"]

log = logging.getLogger("tessera.ratelimit")

#: after a Redis failure, count in this process for this long before trying Redis again
REDIS_RETRY_AFTER = 5.0
#: a Redis that does not answer costs a request at most this long (seconds) before the fallback takes over
REDIS_TIMEOUT = 0.25


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a request may go ahead, and if not, in how many seconds it may be tried again."""

    allowed: bool
    retry_after: int = 0


_ALLOWED = Verdict(True)


def address_key(address: str | None) -> str:
    """What one client address counts as: the IPv4 address, or the /64 of an IPv6 address (one host usually
    has a whole /64, so counting single IPv6 addresses would limit nobody)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Counters:
    """One ``limits`` strategy over Redis (if configured) with an in-process stand-in for Redis outages."""

    def __init__(self, strategy: type[RateLimiter], redis_url: str | None, prefix: str) -> None:
        self._local = strategy(MemoryStorage())
        self._shared: RateLimiter | None = None
        self._redis: RedisStorage | None = None
        if redis_url is not None:
            self._redis = RedisStorage(
                redis_url,
                key_prefix=f"{prefix}:ratelimit",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            self._shared = strategy(self._redis)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._redis is not None:
            self._redis.storage.close()  # the redis.Redis client and its connection pool

    def _limiter(self) -> RateLimiter:
        if self._shared is not None and time.monotonic() >= self._down_until:
            return self._shared
        return self._local

    def _failed(self, exc: StorageError) -> RateLimiter:
        with self._lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + REDIS_RETRY_AFTER
        if first:
            log.warning(
                "rate-limit storage unreachable (%s); counting in this process until it answers again",
                type(exc.storage_error).__name__,
            )
        return self._local

    def _recovered(self) -> None:
        if self._down_until:
            with self._lock:
                self._down_until = 0.0
            log.warning("rate-limit storage answers again; counters are shared again")

    def check(self, items: Sequence[RateLimitItem], *key: str) -> Verdict:
        """Is there room under every item (without counting this request)?"""
        return self._apply(_check, items, key)

    def hit(self, items: Sequence[RateLimitItem], *key: str) -> Verdict:
        """Count one request under every item; refused if any item was already full."""
        return self._apply(_hit, items, key)

    def _apply(
        self,
        step: Callable[[RateLimiter, Sequence[RateLimitItem], Sequence[str]], Verdict],
        items: Sequence[RateLimitItem],
        key: Sequence[str],
    ) -> Verdict:
        """Run ``step`` on the shared counters, or on this process's while they are unreachable."""
        limiter = self._limiter()
        try:
            verdict = step(limiter, items, key)
        except StorageError as exc:
            verdict = step(self._failed(exc), items, key)
        else:
            if limiter is self._shared:
                self._recovered()
        return verdict

    def clear(self, items: Sequence[RateLimitItem], *key: str) -> None:
        for limiter in {self._limiter(), self._local}:
            try:
                for item in items:
                    limiter.clear(item, *key)
            except StorageError as exc:
                self._failed(exc)


def _retry_after(limiter: RateLimiter, item: RateLimitItem, key: Sequence[str]) -> int:
    reset = limiter.get_window_stats(item, *key).reset_time
    return max(1, math.ceil(reset - time.time()))


def _check(limiter: RateLimiter, items: Sequence[RateLimitItem], key: Sequence[str]) -> Verdict:
    waits = [_retry_after(limiter, item, key) for item in items if not limiter.test(item, *key)]
    return Verdict(False, max(waits)) if waits else _ALLOWED


def _hit(limiter: RateLimiter, items: Sequence[RateLimitItem], key: Sequence[str]) -> Verdict:
    full = [item for item in items if not limiter.hit(item, *key)]
    return Verdict(False, max(_retry_after(limiter, item, key) for item in full)) if full else _ALLOWED


class RateLimits:
    """Every rate limit of one server process, configured from :class:`~tessera.config.Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.account = parse_limits(settings.login_limit_account)
        self.address = parse_limits(settings.login_limit_address)
        self.per_client = {
            "token": parse_limits(settings.token_limit),
            "introspection": parse_limits(settings.introspection_limit),
        }
        # a sign-in ladder is small, so the exact moving window is cheap and gives an exact Retry-After;
        # per-client limits may be high, so they use the constant-size sliding-window counter
        self._logins = _Counters(MovingWindowRateLimiter, settings.redis_url, settings.redis_prefix)
        self._clients = _Counters(SlidingWindowCounterRateLimiter, settings.redis_url, settings.redis_prefix)

    def close(self) -> None:
        """Close the Redis connections (a process that exits need not)."""
        self._logins.close()
        self._clients.close()

    # sign-in

    def login_allowed(self, username: str, address: str | None) -> Verdict:
        """May this sign-in be tried? Asked before the password is checked, so a right password is refused too
        while the account or address is waiting."""
        account = self._logins.check(self.account, "login-account", _account_key(username))
        by_address = self._logins.check(self.address, "login-address", address_key(address))
        return _stricter(account, by_address)

    def login_failed(self, username: str, address: str | None) -> None:
        self._logins.hit(self.account, "login-account", _account_key(username))
        self._logins.hit(self.address, "login-address", address_key(address))

    def login_succeeded(self, username: str) -> None:
        self._logins.clear(self.account, "login-account", _account_key(username))

    # machine endpoints

    def client_request(self, endpoint: str, client_id: str) -> Verdict:
        """Count one request of an authenticated client at ``endpoint`` (``token`` or ``introspection``)."""
        items = self.per_client.get(endpoint, ())
        if not items:
            return _ALLOWED
        return self._clients.hit(items, endpoint, client_id)


def _account_key(username: str) -> str:
    # usernames may be e-mail addresses: keep them out of Redis
    return digest(username)[:32]


def _stricter(a: Verdict, b: Verdict) -> Verdict:
    if a.allowed and b.allowed:
        return _ALLOWED
    return Verdict(False, max(a.retry_after, b.retry_after))
