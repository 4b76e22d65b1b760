"""The rate-limit rules themselves, in one process, on a clock the test moves."""

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tessera.config import Settings
from tessera.errors import ConfigError
from tessera.ratelimit import RateLimits, address_key, parse_limits


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
    for _ in range(times):
        assert limits.login_allowed(username, address).allowed
        limits.login_failed(username, address)


def test_default_ladder_makes_an_attacker_wait_longer_and_longer(clock: Clock) -> None:
    """An attacker who tries again the moment they may: 5/minute, 10/10minutes, 20/hour, 100/day."""
    limits = RateLimits(Settings(login_limit_address="off"))
    longest_wait_before = {}  # attempt number -> the longest single wait imposed before it
    attempt, longest = 1, 0
    while attempt <= 101:
        verdict = limits.login_allowed("alice", "192.0.2.1")
        if verdict.allowed:
            longest_wait_before[attempt] = longest
            limits.login_failed("alice", "192.0.2.1")
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
    verdict = limits.login_allowed("alice", "192.0.2.1")
    assert not verdict.allowed and 1 <= verdict.retry_after <= 60
    clock.now += 61
    assert limits.login_allowed("alice", "192.0.2.1").allowed


def test_counting_does_not_depend_on_whether_the_account_exists(clock: Clock) -> None:
    limits = RateLimits(Settings())
    _fail(limits, 5, "alice")
    _fail(limits, 5, "no-such-user")
    assert limits.login_allowed("alice", "192.0.2.1") == limits.login_allowed("no-such-user", "192.0.2.1")


def test_success_clears_the_account_but_not_the_address(clock: Clock) -> None:
    limits = RateLimits(Settings(login_limit_account="3/minute", login_limit_address="5/minute"))
    _fail(limits, 2, "alice", "192.0.2.1")
    limits.login_succeeded("alice")
    _fail(limits, 2, "alice", "192.0.2.1")  # would be 4 > 3 without the reset
    assert limits.login_allowed("alice", "192.0.2.1").allowed
    limits.login_failed("bob", "192.0.2.1")  # the fifth failure from this address
    assert not limits.login_allowed("carol", "192.0.2.1").allowed
    assert limits.login_allowed("carol", "198.51.100.7").allowed


def test_addresses_are_counted_per_ipv4_host_and_per_ipv6_64() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key(None) == address_key("not an address") == "unknown"


def test_per_client_limits_are_off_by_default_and_count_each_client_apart(clock: Clock) -> None:
    assert RateLimits(Settings()).per_client == {"token": (), "introspection": ()}
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


@pytest.mark.redis
def test_processes_sharing_redis_share_one_budget(redis_url: str, redis_prefix: str) -> None:
    import redis

    first = RateLimits(_redis_settings(redis_url, redis_prefix, login_limit_account="4/minute", token_limit="3/minute"))
    second = RateLimits(
        _redis_settings(redis_url, redis_prefix, login_limit_account="4/minute", token_limit="3/minute")
    )
    _fail(first, 2)
    _fail(second, 2)
    assert not first.login_allowed("alice", "192.0.2.1").allowed
    assert not second.login_allowed("alice", "192.0.2.1").allowed
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
        proxied = f"redis://127.0.0.1:{proxy.port}/0"
        limits = RateLimits(_redis_settings(proxied, redis_prefix, login_limit_account="3/minute"))
        other = RateLimits(_redis_settings(redis_url, redis_prefix, login_limit_account="3/minute"))
        _fail(limits, 1)
        proxy.cut()
        with caplog.at_level("WARNING", logger="tessera.ratelimit"):
            _fail(limits, 3)  # counted here while Redis is away: sign-in never depends on Redis
            assert not limits.login_allowed("alice", "192.0.2.1").allowed  # and still limited
        assert [r.getMessage() for r in caplog.records].count(
            "rate-limit storage unreachable (ConnectionError); counting in this process until it answers again"
        ) == 1
        proxy.restore()
        time.sleep(0.3)
        _fail(other, 2)  # the shared count is 1 + 2 = 3 now
        assert not limits.login_allowed("alice", "192.0.2.1").allowed
        assert "counters are shared again" in caplog.text
        limits.close()
        other.close()
