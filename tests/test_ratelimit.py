"""The rate-limit rules themselves, on a clock the test moves: in one process, and the sign-in rules in Redis too
(``TESSERA_TEST_REDIS_URL``, in the database its URL names, under a key prefix of the test's own)."""

import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from tessera.config import Settings
from tessera.errors import ConfigError
from tessera.ratelimit import RateLimits, _MemoryWindows, _rungs, address_key, parse_limits


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr("time.time", clock)
    yield clock


def _fail(limits: RateLimits, times: int, username: str = "alice", address: str = "192.0.2.1") -> None:
    """Sign-in attempts with a wrong password: each counts from the moment it is allowed."""
    for _ in range(times):
        assert limits.login_attempt(username, address).allowed


def _succeed(limits: RateLimits, username: str = "alice", address: str = "192.0.2.1") -> None:
    attempt = limits.login_attempt(username, address)
    assert attempt.allowed
    limits.login_succeeded(attempt)


def _allowed(limits: RateLimits, username: str = "alice", address: str = "192.0.2.1") -> bool:
    return limits.login_attempt(username, address).allowed


def test_default_ladder_makes_an_attacker_wait_longer_and_longer(clock: Clock) -> None:
    """An attacker who tries again the moment they may: 5/minute, 10/10minutes, 20/hour, 100/day."""
    limits = RateLimits(Settings(login_limit_address="off"))
    longest_wait_before = {}  # attempt number -> the longest single wait imposed before it
    attempt, longest = 1, 0
    while attempt <= 101:
        verdict = limits.login_attempt("alice", "192.0.2.1")
        if verdict.allowed:
            longest_wait_before[attempt] = longest
            attempt += 1
        else:
            longest = max(longest, verdict.retry_after)
            clock.now += verdict.retry_after
    assert longest_wait_before[5] == 0
    assert 0 < longest_wait_before[10] <= 60  # the first rung: a minute at most
    assert 300 < longest_wait_before[20] <= 600  # then ten minutes
    assert 1800 < longest_wait_before[100] <= 3600  # then an hour
    assert longest_wait_before[101] > 12 * 3600  # then most of a day


def test_a_person_who_mistypes_waits_at_most_a_minute(clock: Clock) -> None:
    limits = RateLimits(Settings())
    _fail(limits, 5)
    verdict = limits.login_attempt("alice", "192.0.2.1")
    assert not verdict.allowed and 1 <= verdict.retry_after <= 60
    clock.now += 61
    assert _allowed(limits)


def test_counting_does_not_depend_on_whether_the_account_exists(clock: Clock) -> None:
    limits = RateLimits(Settings())
    _fail(limits, 5, "alice")
    _fail(limits, 5, "no-such-user")
    existing, missing = limits.login_attempt("alice", "192.0.2.1"), limits.login_attempt("no-such-user", "192.0.2.1")
    assert not existing.allowed and (existing.allowed, existing.retry_after) == (missing.allowed, missing.retry_after)


Make = Callable[..., RateLimits]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_limits(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Make]:
    """``RateLimits`` from settings fields, counting in this process or in Redis; closed afterwards."""
    made: list[RateLimits] = []

    def make(**fields: str) -> RateLimits:
        if request.param == "redis":
            url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
            made.append(RateLimits(_redis_settings(url, prefix, **fields)))
        else:
            made.append(RateLimits(Settings(**fields)))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for limits in made:
        limits.close()


def test_success_clears_the_account_but_not_the_address(make_limits: Make) -> None:
    limits = make_limits(login_limit_account="3/minute", login_limit_address="5/minute")
    _fail(limits, 2, "alice", "192.0.2.1")
    _succeed(limits, "alice", "192.0.2.1")
    _fail(limits, 3, "alice", "192.0.2.1")  # would be 5 > 3 without the reset
    assert not _allowed(limits, "alice", "192.0.2.1")
    # the address counts its five failures, not the success (which would make six > 5)
    assert not _allowed(limits, "carol", "192.0.2.1")
    assert _allowed(limits, "carol", "198.51.100.7")


# A sign-in takes its slot before the password is checked, so that a burst cannot outrun its own count.


def test_attempts_in_flight_hold_their_slots(make_limits: Make) -> None:
    """Five attempts whose passwords are still being checked fill a limit of five: the sixth waits."""
    limits = make_limits(login_limit_account="5/minute", login_limit_address="off")
    attempts = [limits.login_attempt("alice", "192.0.2.1") for _ in range(6)]
    assert [a.allowed for a in attempts] == [True] * 5 + [False]
    assert 1 <= attempts[-1].retry_after <= 60
    limits.login_succeeded(attempts[0])  # the right password after all: the account starts again
    assert _allowed(limits)


def test_simultaneous_attempts_never_take_more_slots_than_the_limit(make_limits: Make) -> None:
    limits = make_limits(login_limit_account="5/minute", login_limit_address="7/minute")
    threads = 48
    barrier = threading.Barrier(threads)
    allowed: list[tuple[str, str]] = []

    def attempt(i: int) -> None:
        # half of them try alice from addresses of their own, half try accounts of their own from one address
        username, address = ("alice", f"198.51.100.{i}") if i % 2 else (f"user{i}", "192.0.2.1")
        barrier.wait()
        if limits.login_attempt(username, address).allowed:
            allowed.append((username, address))  # list.append is atomic

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert sum(username == "alice" for username, _ in allowed) == 5
    assert sum(address == "192.0.2.1" for _, address in allowed) == 7


def test_a_refused_attempt_is_counted_under_no_rung_of_either_ladder(make_limits: Make, clock: Clock) -> None:
    """A slot is taken under every rung of both ladders or under none: waiting never makes the wait longer."""
    limits = make_limits(login_limit_account="2/minute;3/10minutes", login_limit_address="4/minute")
    _fail(limits, 2, "alice", "192.0.2.1")
    assert not any(_allowed(limits, "alice", "192.0.2.1") for _ in range(10))  # the account is full ...
    _fail(limits, 2, "bob", "192.0.2.1")  # ... and those ten took nothing from the address
    assert not any(_allowed(limits, "carol", "192.0.2.1") for _ in range(10))  # the address is full ...
    _fail(limits, 2, "carol", "198.51.100.7")  # ... and those ten took nothing from carol's account
    clock.now += 61
    _fail(limits, 1, "alice", "198.51.100.7")  # the ten-minute rung holds two failures, not twelve
    refused = limits.login_attempt("alice", "198.51.100.7")
    assert not refused.allowed and 500 < refused.retry_after <= 540


def test_a_success_gives_its_slot_back_to_the_address(make_limits: Make) -> None:
    """Many people behind one address can sign in: successes do not use up the address's failures."""
    limits = make_limits(login_limit_account="5/minute", login_limit_address="3/minute")
    for i in range(10):
        _succeed(limits, f"user{i}", "192.0.2.1")
    _fail(limits, 3, "mallory", "192.0.2.1")
    assert not _allowed(limits, "someone", "192.0.2.1")


def test_idle_windows_leave_memory(clock: Clock) -> None:
    """Every username ever tried would otherwise stay in the process's memory."""
    windows = _MemoryWindows()
    rungs = _rungs(parse_limits("2/minute"), "login-account", "someone")
    assert windows.reserve(rungs, clock.now) == 0
    later = clock.now + 61 + _MemoryWindows.SWEEP_EVERY
    assert windows.reserve(_rungs(parse_limits("2/minute"), "login-account", "another"), later) == 0
    assert rungs[0].key not in windows._entries


def test_addresses_are_counted_per_ipv4_host_and_per_ipv6_64() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key(None) == address_key("not an address") == "unknown"


def test_per_client_limits_are_off_by_default_and_count_each_client_apart(clock: Clock) -> None:
    defaults = RateLimits(Settings()).per_client
    assert defaults["token"] == () and defaults["introspection"] == ()
    # leak reports are counted per client address, not per client, and are limited unless turned off
    assert [str(item) for item in defaults["leak_report"]] == ["60 per 1 minute"]
    assert RateLimits(Settings(leak_report_limit="off")).per_client["leak_report"] == ()
    limits = RateLimits(Settings(token_limit="3/minute"))
    assert [limits.client_request("token", "a").allowed for _ in range(4)] == [True, True, True, False]
    assert limits.client_request("token", "b").allowed
    assert limits.client_request("introspection", "a").allowed
    refused = limits.client_request("token", "a")
    assert 1 <= refused.retry_after <= 60
    clock.now += 61
    assert limits.client_request("token", "a").allowed


def test_limit_strings() -> None:
    assert parse_limits("off") == parse_limits("") == ()
    assert [str(item) for item in parse_limits("5/minute;20/hour")] == ["5 per 1 minute", "20 per 1 hour"]
    assert Settings.from_env({"TESSERA_TOKEN_LIMIT": "1000/second"}).token_limit == "1000/second"
    assert Settings.from_env({"TESSERA_LOGIN_LIMIT_ACCOUNT": "OFF"}).login_limit_account == "off"
    with pytest.raises(ConfigError, match="TESSERA_INTROSPECTION_LIMIT"):
        Settings.from_env({"TESSERA_INTROSPECTION_LIMIT": "lots"})
    with pytest.raises(ConfigError, match="TESSERA_REDIS_PREFIX"):
        Settings.from_env({"TESSERA_REDIS_PREFIX": "has space"})


def _redis_settings(url: str, prefix: str, **fields: str) -> Settings:
    return Settings(redis_url=url, redis_prefix=prefix, **fields)  # type: ignore[arg-type]


def _through(port: int, redis_url: str) -> str:
    """``redis_url`` (its database too) by way of a proxy on ``port``."""
    return urlsplit(redis_url)._replace(netloc=f"127.0.0.1:{port}").geturl()


@pytest.mark.redis
def test_processes_sharing_redis_share_one_budget(redis_url: str, redis_prefix: str) -> None:
    import redis

    first = RateLimits(_redis_settings(redis_url, redis_prefix, login_limit_account="4/minute", token_limit="3/minute"))
    second = RateLimits(
        _redis_settings(redis_url, redis_prefix, login_limit_account="4/minute", token_limit="3/minute")
    )
    _fail(first, 2)
    _fail(second, 2)
    assert not _allowed(first)
    assert not _allowed(second)
    assert first.client_request("token", "c").allowed and second.client_request("token", "c").allowed
    assert first.client_request("token", "c").allowed
    assert not second.client_request("token", "c").allowed
    first.close()
    second.close()
    conn = redis.Redis.from_url(redis_url)
    keys = conn.keys(f"{redis_prefix}:*")
    conn.close()
    assert keys and not any(b"alice" in key for key in keys)  # usernames are not written to Redis


@pytest.mark.redis
def test_unreachable_redis_falls_back_to_this_process_and_comes_back(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.tcp_proxy import TcpProxy

    monkeypatch.setattr("tessera.ratelimit.REDIS_RETRY_AFTER", 0.2)
    with TcpProxy(urlsplit(redis_url).port or 6379) as proxy:
        proxied = _through(proxy.port, redis_url)
        limits = RateLimits(_redis_settings(proxied, redis_prefix, login_limit_account="3/minute"))
        other = RateLimits(_redis_settings(redis_url, redis_prefix, login_limit_account="3/minute"))
        _fail(limits, 1)
        proxy.cut()
        with caplog.at_level("WARNING", logger="tessera.ratelimit"):
            _fail(limits, 3)  # counted here while Redis is away: sign-in never depends on Redis
            assert not _allowed(limits)  # and still limited
        assert [r.getMessage() for r in caplog.records].count(
            "rate-limit storage unreachable (ConnectionError); counting in this process until it answers again"
        ) == 1
        proxy.restore()
        time.sleep(0.3)
        _fail(other, 2)  # the shared count is 1 + 2 = 3 now
        assert not _allowed(limits)
        assert "counters are shared again" in caplog.text
        limits.close()
        other.close()


@pytest.mark.redis
def test_sign_in_counts_are_the_lists_limits_keeps(redis_url: str, redis_prefix: str) -> None:
    """A server process of an earlier release counts failures with ``limits``' own moving window: while both
    run (a rolling upgrade), each sees the other's failures."""
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

    from tessera.ratelimit import _account_key

    limits = RateLimits(_redis_settings(redis_url, redis_prefix, login_limit_account="5/minute"))
    storage = RedisStorage(redis_url, key_prefix=f"{redis_prefix}:ratelimit")
    earlier = MovingWindowRateLimiter(storage)
    item, key = limits.account[0], ("login-account", _account_key("alice"))
    _fail(limits, 3)
    assert earlier.get_window_stats(item, *key).remaining == 2
    assert earlier.hit(item, *key) and earlier.hit(item, *key)
    assert not _allowed(limits)
    limits.close()
    storage.storage.close()


@pytest.mark.redis
def test_a_success_gives_its_slot_back_where_it_was_taken(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken in this process while Redis was away: given back here. Taken in Redis, which is away now: kept
    (one failure too many for a minute, never one too few)."""
    from tests.tcp_proxy import TcpProxy

    monkeypatch.setattr("tessera.ratelimit.REDIS_RETRY_AFTER", 0.2)
    fields = {"login_limit_account": "off", "login_limit_address": "2/minute"}
    with TcpProxy(urlsplit(redis_url).port or 6379) as proxy:
        limits = RateLimits(_redis_settings(_through(proxy.port, redis_url), redis_prefix, **fields))
        other = RateLimits(_redis_settings(redis_url, redis_prefix, **fields))
        proxy.cut()
        here = limits.login_attempt("alice", "192.0.2.1")
        proxy.restore()
        time.sleep(0.3)
        limits.login_succeeded(here)
        _fail(other, 2, "bob", "192.0.2.1")  # Redis never held alice's slot
        proxy.cut()
        _fail(limits, 2, "carol", "192.0.2.1")  # and this process has given it back
        proxy.restore()
        time.sleep(0.3)

        shared = limits.login_attempt("dave", "198.51.100.7")  # in Redis
        proxy.cut()
        limits.login_succeeded(shared)  # Redis is away: the slot stays taken, and nothing fails
        _fail(other, 1, "erin", "198.51.100.7")
        assert not _allowed(other, "frank", "198.51.100.7")
        limits.close()
        other.close()


# the device grant: user codes entered, and devices polling


def test_wrong_user_codes_are_limited_per_address_and_a_match_gives_its_slot_back(make_limits: Make) -> None:
    limits = make_limits(user_code_limit_address="3/minute", user_code_limit="off")
    for _ in range(2):
        assert limits.user_code_attempt("192.0.2.1").allowed  # two misses
    for _ in range(5):
        matched = limits.user_code_attempt("192.0.2.1")
        assert matched.allowed
        limits.user_code_matched(matched)
    assert limits.user_code_attempt("192.0.2.1").allowed  # the third miss
    refused = limits.user_code_attempt("192.0.2.1")
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    assert limits.user_code_attempt("192.0.2.2").allowed


def test_the_code_space_budget_is_shared_by_every_address(make_limits: Make) -> None:
    limits = make_limits(user_code_limit_address="off", user_code_limit="4/minute")
    for i in range(4):
        assert limits.user_code_attempt(f"198.51.100.{i}").allowed
    assert not limits.user_code_attempt("203.0.113.1").allowed


def test_sign_in_and_user_code_budgets_are_apart(make_limits: Make) -> None:
    limits = make_limits(user_code_limit_address="1/minute", login_limit_address="1/minute")
    assert limits.user_code_attempt("192.0.2.1").allowed
    assert limits.login_attempt("alice", "192.0.2.1").allowed
    assert not limits.user_code_attempt("192.0.2.1").allowed


def test_a_device_polling_too_soon_is_slowed_down_for_good(make_limits: Make) -> None:
    limits = make_limits()

    def poll(at: float) -> int:
        return limits.device_poll("device-1", 5, 1_800_000_000.0 + at, 600)

    assert poll(0) == 0
    assert poll(4.9) == 10  # slow_down: 5 seconds more, from this poll on
    assert poll(13.9) == 15  # 9 s after the last poll is now too soon, and it grows again
    assert poll(28.9) == 0
    assert poll(43.9) == 0  # the grown interval stays: RFC 8628 §3.5
    assert poll(53.9) == 20
    assert limits.device_poll("device-2", 5, 1_800_000_045.0, 600) == 0  # every device has its own pace


def test_processes_sharing_redis_share_the_pace_of_a_device(redis_url: str, redis_prefix: str) -> None:
    one, other = (RateLimits(_redis_settings(redis_url, redis_prefix)) for _ in range(2))
    try:
        assert one.device_poll("device-1", 5, 1_800_000_000.0, 600) == 0
        assert other.device_poll("device-1", 5, 1_800_000_001.0, 600) == 10
    finally:
        one.close()
        other.close()
