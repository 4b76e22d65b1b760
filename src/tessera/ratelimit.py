"""Rate limits on failed sign-ins and on the machine endpoints, in the moving and sliding windows of ``limits``.

* **Failed sign-ins**, per account and per client address (RFC 9700 §4.16 leaves it to us; OWASP's advice).
  Each limit is a ladder of windows, e.g. ``5/minute;10/10minutes;20/hour;100/day``: once a rung is full, the
  next attempt waits until its window frees a slot, and every rung is a longer wait, so an attacker who keeps
  going backs off from a minute to ten minutes to an hour to a day, while a person who mistyped a few times
  waits at most a minute. Only failures count, and a success clears the account's count (not the address's,
  or signing in to one's own account would reset the budget for guessing others'). Usernames are counted
  whether or not the account exists, so the answer never tells which accounts exist.
* **User codes entered on the device verification page** (RFC 8628 §5.1) that match no pending sign-in, per
  client address and over the whole code space (every address together), each a ladder as above, counted and
  given back exactly as sign-ins are. The arithmetic behind the defaults is in ``docs/security.md``.
* **Device polls** (RFC 8628 §3.5): a device that polls the token endpoint sooner than its interval is told
  ``slow_down``, and its interval grows by 5 seconds for this and every later poll (:meth:`RateLimits.device_poll`).
* **Client registrations** (RFC 7591), per client address, counted whether they succeed or not: open
  registration must not let one address fill the client table.
* **Client ID metadata documents fetched** for a ``client_id`` URL the process does not hold, per client
  address: naming new URLs must not turn the server into a fetcher for whoever asks.
* **Token and introspection requests, per authenticated client** (off unless configured). Counted after the
  client has authenticated, so nobody can use up another client's budget by sending its client_id.

A sign-in is counted as a failure *before* its password is checked, under every rung of both ladders in one
step that takes a slot everywhere or nowhere (:meth:`RateLimits.login_attempt`); a success then gives its slot
back (:meth:`RateLimits.login_succeeded`). Counting after the check let a burst through: a password check takes
a good fraction of a second, and every attempt of a burst found the count still empty while the others were
being checked. ``limits`` takes one slot under one window atomically, but not under several windows at once,
and cannot give a slot back, so sign-ins keep their windows here (:class:`_MemoryWindows`, and
:class:`_RedisWindows` in the very lists ``limits`` keeps for its moving window); the per-client limits are
plain ``limits`` counters.

Counters live in this process, or in Redis when ``TESSERA_REDIS_URL`` is set so that every server process
shares one budget. Redis being unreachable never stops anyone from signing in or getting a token: the check
falls back to this process's own counters for a few seconds and logs it once per outage.

    >>> limits = RateLimits(Settings(login_limit_account="2/minute"))
    >>> [limits.login_attempt("alice", "192.0.2.1").allowed for _ in range(3)]
    [True, True, False]
"""

import contextlib
import dataclasses
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisSentinelStorage, RedisStorage
from limits.strategies import RateLimiter, SlidingWindowCounterRateLimiter

from tessera.config import Settings, parse_limits
from tessera.redisurl import parse_sentinel
from tessera.tokens import digest

__all__ = ["LoginAttempt", "RateLimits", "Verdict", "address_key", "parse_limits"]

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


class _Rung(NamedTuple):
    """One window of a ladder for one account or address: its storage key, how many entries, how long."""

    key: str
    limit: int
    seconds: int


def _rungs(items: Sequence[RateLimitItem], *identifiers: str) -> tuple[_Rung, ...]:
    # the keys ``limits`` itself gives these items, so its moving window and ours read the same lists
    return tuple(_Rung(item.key_for(*identifiers), item.amount, item.get_expiry()) for item in items)


def _wait(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class _Windows(Protocol):
    """Moving windows that can take a slot under several windows at once, and give one back."""

    def reserve(self, rungs: Sequence[_Rung], stamp: float) -> int:
        """Enter ``stamp`` under every rung if each has room, else under none. Returns 0 if entered, else the
        seconds until every full rung has room again."""

    def release(self, keys: Sequence[str], stamp: float) -> None:
        """Take one entry ``stamp`` back out of each window (none if it has left the window already)."""

    def clear(self, keys: Sequence[str]) -> None: ...


class _MemoryWindows:
    """The windows of this process: for each key, its entries' times, newest first. One lock for all keys makes
    a reservation under both ladders one step; a sign-in holds it for microseconds."""

    #: how often (seconds) keys whose entries have all left their windows are dropped
    SWEEP_EVERY = 60.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, list[float]]] = {}  # key -> (window seconds, entries)
        self._lock = threading.Lock()
        self._swept = 0.0

    def reserve(self, rungs: Sequence[_Rung], stamp: float) -> int:
        with self._lock:
            self._sweep(stamp)
            waits = [self._full_for(rung, stamp) for rung in rungs]
            if any(waits):
                return max(waits)
            for rung in rungs:
                entries = self._entries.setdefault(rung.key, (rung.seconds, []))[1]
                entries.insert(0, stamp)
                del entries[rung.limit :]
            return 0

    def _full_for(self, rung: _Rung, stamp: float) -> int:
        """0 if ``rung`` has room at ``stamp``, else the seconds until it has (as ``limits`` decides it)."""
        if rung.limit < 1:
            return rung.seconds
        entries = self._entries.get(rung.key, (0, []))[1]
        if len(entries) < rung.limit or entries[rung.limit - 1] < stamp - rung.seconds:
            return 0
        return _wait(entries[rung.limit - 1] + rung.seconds - stamp)

    def release(self, keys: Sequence[str], stamp: float) -> None:
        with self._lock:
            for key in keys:
                entries = self._entries.get(key, (0, []))[1]
                if stamp in entries:
                    entries.remove(stamp)

    def clear(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def _sweep(self, now: float) -> None:
        # without it, every username ever tried would stay in memory
        if now - self._swept < self.SWEEP_EVERY:
            return
        self._swept = now
        for key, (seconds, entries) in list(self._entries.items()):
            if not entries or entries[0] < now - seconds:
                del self._entries[key]


# KEYS: one list per rung, newest entry first, as ``limits``' moving window keeps it; ARGV: the attempt's time,
# then each rung's limit and window in seconds. Redis runs a script as one step, so no other attempt can come
# between the look at every rung and the entries.
_RESERVE = b"""
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
    local limit, seconds = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    if limit < 1 then
        wait = math.max(wait, seconds)
    else
        local oldest = redis.call('lindex', key, limit - 1)
        if oldest and tonumber(oldest) >= now - seconds then
            wait = math.max(wait, 1, math.ceil(tonumber(oldest) + seconds - now))
        end
    end
end
if wait > 0 then
    return wait
end
for i, key in ipairs(KEYS) do
    local limit, seconds = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    redis.call('lpush', key, ARGV[1])
    redis.call('ltrim', key, 0, limit - 1)
    redis.call('expire', key, seconds)
end
return 0
"""

# the entries are the attempts' times as the reservation wrote them, so this removes that attempt's own entry
# (or, in the same microsecond, one just like it)
_RELEASE = b"""
for _, key in ipairs(KEYS) do
    redis.call('lrem', key, 1, ARGV[1])
end
return 0
"""


class _RedisWindows:
    """The windows in Redis, in the lists ``limits`` keeps for its moving window (same keys, same entries), so
    that the counts of server processes of an earlier release, which enter failures with ``limits`` itself, and
    of this one are the same counts while both run."""

    def __init__(self, storage: RedisStorage) -> None:
        self._storage = storage
        self._reserve = storage.get_connection().register_script(_RESERVE)
        self._release = storage.get_connection().register_script(_RELEASE)

    def reserve(self, rungs: Sequence[_Rung], stamp: float) -> int:
        keys = [self._storage.prefixed_key(rung.key) for rung in rungs]
        args: list[str | int] = [repr(stamp)]
        for rung in rungs:
            args += (rung.limit, rung.seconds)
        with self._errors():
            return int(self._reserve(keys, args))

    def release(self, keys: Sequence[str], stamp: float) -> None:
        with self._errors():
            self._release([self._storage.prefixed_key(key) for key in keys], [repr(stamp)])

    def clear(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._storage.clear(key)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Redis errors as ``limits`` reports them for its own calls, which :class:`_Failover` handles."""
        try:
            yield
        except self._storage.base_exceptions as exc:
            raise StorageError(exc) from exc


class _Pacing(Protocol):
    """When each device last polled, and how many seconds its interval has grown (RFC 8628 §3.5)."""

    def poll(self, key: str, interval: int, now: float, ttl: int) -> int:
        """Record a poll at ``now``. 0 if it came at least the device's interval (``interval`` plus what it has
        grown) after the last one; else the interval grows by :data:`SLOW_DOWN_STEP` and the new one is
        returned. ``ttl``: how long to remember the device."""


#: seconds a device's polling interval grows by at each ``slow_down`` (RFC 8628 §3.5)
SLOW_DOWN_STEP = 5


class _MemoryPacing:
    """The devices' polls in this process: key -> (last poll, seconds grown, forget after)."""

    def __init__(self) -> None:
        self._devices: dict[str, tuple[float, int, float]] = {}
        self._lock = threading.Lock()
        self._swept = 0.0

    def poll(self, key: str, interval: int, now: float, ttl: int) -> int:
        with self._lock:
            if now - self._swept >= _MemoryWindows.SWEEP_EVERY:
                self._swept = now
                self._devices = {k: v for k, v in self._devices.items() if v[2] > now}
            last, grown, _ = self._devices.get(key, (None, 0, 0.0))
            slow = last is not None and now - last < interval + grown
            if slow:
                grown += SLOW_DOWN_STEP
            self._devices[key] = (now, grown, now + ttl)
            return interval + grown if slow else 0


# KEYS: the device's hash; ARGV: the poll's time, the base interval, the interval's step, seconds to keep it
_POLL = b"""
local now, interval, step = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('hmget', KEYS[1], 'last', 'grown')
local last, grown = tonumber(state[1]), tonumber(state[2]) or 0
local slow = 0
if last and now - last < interval + grown then
    grown = grown + step
    slow = interval + grown
end
redis.call('hset', KEYS[1], 'last', ARGV[1], 'grown', grown)
redis.call('expire', KEYS[1], ARGV[4])
return slow
"""


class _RedisPacing:
    """The devices' polls in Redis, one small hash per device, read and written by one script."""

    def __init__(self, storage: RedisStorage) -> None:
        self._storage = storage
        self._poll = storage.get_connection().register_script(_POLL)

    def poll(self, key: str, interval: int, now: float, ttl: int) -> int:
        try:
            return int(
                self._poll(
                    [self._storage.prefixed_key(f"device-poll/{key}")], [repr(now), interval, SLOW_DOWN_STEP, ttl]
                )
            )
        except self._storage.base_exceptions as exc:
            raise StorageError(exc) from exc


_B = TypeVar("_B")
_R = TypeVar("_R")


class _Failover(Generic[_B]):
    """Counters of one kind in Redis (if configured), with an in-process stand-in while Redis is unreachable."""

    def __init__(self, local: _B, shared: _B | None = None, redis: RedisStorage | None = None) -> None:
        self._local = local
        self._shared = shared
        self._redis = redis
        self._down_until = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._redis is not None:
            self._redis.storage.close()  # the redis.Redis client and its connection pool

    def _current(self) -> _B:
        if self._shared is not None and time.monotonic() >= self._down_until:
            return self._shared
        return self._local

    def _failed(self, exc: StorageError) -> _B:
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

    def run(self, step: Callable[[_B], _R]) -> _R:
        """``step`` on the shared counters, or on this process's while they are unreachable."""
        counters = self._current()
        try:
            result = step(counters)
        except StorageError as exc:
            return step(self._failed(exc))
        if counters is self._shared:
            self._recovered()
        return result

    def run_on(self, counters: _B, step: Callable[[_B], None]) -> None:
        """``step`` on the given counters only; if they are Redis and it does not answer, it is left undone."""
        try:
            step(counters)
        except StorageError as exc:
            self._failed(exc)

    def run_everywhere(self, step: Callable[[_B], None]) -> None:
        """``step`` on this process's counters and, unless Redis is known to be away, on the shared ones."""
        for counters in dict.fromkeys((self._current(), self._local)):
            self.run_on(counters, step)


def _hit(limiter: RateLimiter, items: Sequence[RateLimitItem], key: Sequence[str]) -> Verdict:
    full = [item for item in items if not limiter.hit(item, *key)]
    if not full:
        return _ALLOWED
    resets = (limiter.get_window_stats(item, *key).reset_time for item in full)
    return Verdict(False, max(_wait(reset - time.time()) for reset in resets))


@dataclasses.dataclass(frozen=True)
class LoginAttempt:
    """A sign-in attempt (or a user code entered), already counted as a failure under both ladders if
    ``allowed``; else nothing was counted, and it may be tried again in ``retry_after`` seconds."""

    allowed: bool
    retry_after: int = 0
    # the account ladder's keys (for a user code: the code space's)
    account: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    address: tuple[str, ...] = dataclasses.field(default=(), repr=False)  # the address ladder's keys
    stamp: float = dataclasses.field(default=0.0, repr=False)  # the entry it holds in each window
    windows: _Windows | None = dataclasses.field(default=None, repr=False)  # where (Redis or this process)


class RateLimits:
    """Every rate limit of one server process, configured from :class:`~tessera.config.Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.account = parse_limits(settings.login_limit_account)
        self.address = parse_limits(settings.login_limit_address)
        self.user_code_address = parse_limits(settings.user_code_limit_address)
        self.user_code_space = parse_limits(settings.user_code_limit)
        self.per_client = {
            "token": parse_limits(settings.token_limit),
            "introspection": parse_limits(settings.introspection_limit),
            "leak_report": parse_limits(settings.leak_report_limit),
        }
        self.registration = parse_limits(settings.registration_limit)
        self.client_document = parse_limits(settings.client_document_limit)
        # per-client limits may be high, so they use ``limits``' constant-size sliding-window counter; a sign-in
        # ladder is small, so its exact moving window is cheap and gives an exact Retry-After
        url, prefix = settings.redis_url, settings.redis_prefix
        logins = _redis(url, prefix) if url else None
        clients = _redis(url, prefix) if url else None
        self._logins: _Failover[_Windows] = _Failover(
            _MemoryWindows(), _RedisWindows(logins) if logins else None, logins
        )
        self._pacing: _Failover[_Pacing] = _Failover(_MemoryPacing(), _RedisPacing(logins) if logins else None)
        self._clients: _Failover[RateLimiter] = _Failover(
            SlidingWindowCounterRateLimiter(MemoryStorage()),
            SlidingWindowCounterRateLimiter(clients) if clients else None,
            clients,
        )

    def close(self) -> None:
        """Close the Redis connections (a process that exits need not)."""
        self._logins.close()
        self._clients.close()

    # sign-in

    def login_attempt(self, username: str, address: str | None) -> LoginAttempt:
        """May this sign-in be tried? If so, it is counted as a failure at once, before its password is checked
        (:meth:`login_succeeded` takes that back), so that no number of simultaneous attempts gets more
        passwords checked than the limit. Asked before the password is looked at, so a right password waits
        too while the account or address is waiting. ``username`` is the account's normal form
        (:func:`tessera.server.accounts.normalise_username`, which sign-in applies first), so that every
        spelling of one account (``Alice``, ``ALICE``) counts against the same budget."""
        account = _rungs(self.account, "login-account", _account_key(username))
        by_address = _rungs(self.address, "login-address", address_key(address))
        return self._reserve(account, by_address)

    def _reserve(self, first: tuple[_Rung, ...], by_address: tuple[_Rung, ...]) -> LoginAttempt:
        """A slot under every rung of both ladders, or under none."""
        if not first and not by_address:
            return LoginAttempt(True)
        stamp = time.time()
        wait, windows = self._logins.run(lambda windows: (windows.reserve(first + by_address, stamp), windows))
        if wait:
            return LoginAttempt(False, wait)
        keys = (tuple(rung.key for rung in first), tuple(rung.key for rung in by_address))
        return LoginAttempt(True, 0, *keys, stamp, windows)

    def login_succeeded(self, attempt: LoginAttempt) -> None:
        """The password was right: the account's count starts again, and the attempt gives its slot back to the
        address, whose other failures stay counted (many people behind one address may sign in; an attacker's
        own successful sign-ins must not make room for guessing others' passwords)."""
        if attempt.windows is None:  # refused, or both ladders are off: nothing was counted
            return
        if attempt.address:
            self._logins.run_on(attempt.windows, lambda windows: windows.release(attempt.address, attempt.stamp))
        if attempt.account:
            self._logins.run_everywhere(lambda windows: windows.clear(attempt.account))

    # the device grant (RFC 8628)

    def user_code_attempt(self, address: str | None) -> LoginAttempt:
        """May a user code be looked up for this address? If so, it is counted as a failure at once, under the
        address's ladder and the code space's (every address together), until :meth:`user_code_matched` gives
        it back: as for sign-ins, simultaneous attempts never look up more codes than the limits."""
        space = _rungs(self.user_code_space, "user-code-space", "all")
        by_address = _rungs(self.user_code_address, "user-code-address", address_key(address))
        return self._reserve(space, by_address)

    def user_code_matched(self, attempt: LoginAttempt) -> None:
        """The code was a pending one: the attempt gives its slot back to both ladders. Guesses that miss keep
        theirs."""
        if attempt.windows is not None:
            keys = attempt.account + attempt.address
            self._logins.run_on(attempt.windows, lambda windows: windows.release(keys, attempt.stamp))

    def device_poll(self, key: str, interval: int, now: float, ttl: int) -> int:
        """A device polled the token endpoint at ``now`` (RFC 8628 §3.5): 0 if on time, else its new, longer
        interval (``slow_down``). ``key`` names the device authorization (a prefix of its digest); it is
        remembered for ``ttl`` seconds. Shared through Redis when configured, else per process."""
        return self._pacing.run(lambda pacing: pacing.poll(key, interval, now, ttl))

    # machine endpoints

    def client_request(self, endpoint: str, client_id: str) -> Verdict:
        """Count one request of an authenticated client at ``endpoint`` (``token`` or ``introspection``), or of
        a client address (:func:`address_key`) at ``leak_report``."""
        items = self.per_client.get(endpoint, ())
        if not items:
            return _ALLOWED
        return self._clients.run(lambda limiter: _hit(limiter, items, (endpoint, client_id)))

    def registration_request(self, address: str | None) -> Verdict:
        """Count one client registration (RFC 7591) from ``address``, whether or not it succeeds."""
        if not self.registration:
            return _ALLOWED
        key = ("registration", address_key(address))
        return self._clients.run(lambda limiter: _hit(limiter, self.registration, key))

    def client_document_fetch(self, address: str | None) -> Verdict:
        """Count one fetch of a client ID metadata document this process did not hold, asked for by ``address``."""
        if not self.client_document:
            return _ALLOWED
        key = ("client_document", address_key(address))
        return self._clients.run(lambda limiter: _hit(limiter, self.client_document, key))


def _redis(url: str, prefix: str) -> RedisStorage:
    timeouts: dict[str, Any] = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
    sentinel = parse_sentinel(url)
    if sentinel is None:
        return RedisStorage(url, key_prefix=f"{prefix}:ratelimit", wrap_exceptions=True, **timeouts)
    # the master every other Redis user reaches (tessera.redisurl), never a replica, where a count may lag behind
    # the hits just made; limits would ask the sentinels with the master's credentials, but the URL says theirs
    asking: dict[str, Any] = {**timeouts, "username": None, "password": sentinel.sentinel_password}
    auth: dict[str, Any] = {
        k: v for k, v in (("username", sentinel.username), ("password", sentinel.password)) if v is not None
    }
    return RedisSentinelStorage(
        f"redis+sentinel://{sentinel.hosts}/{sentinel.service_name}",
        use_replicas=False,
        sentinel_kwargs=asking,
        key_prefix=f"{prefix}:ratelimit",
        wrap_exceptions=True,
        db=sentinel.db,
        **auth,
        **timeouts,
    )


def _account_key(username: str) -> str:
    # usernames may be e-mail addresses: keep them out of Redis
    return digest(username)[:32]
