"""Revocation pushed to every cache through Redis, and what happens when Redis goes away and comes back."""

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest
from flask import Flask

from tessera.events import RevocationPublisher, encode_revoked
from tessera.resource import (
    AccessToken,
    IntrospectionSource,
    InvalidToken,
    RevocationSubscriber,
    TokenCache,
    TokenValidator,
)
from tessera.resource.core import MISS
from tessera.resource.fastapi import ResourceProtector as FastAPIProtector
from tessera.resource.flask import ResourceProtector as FlaskProtector
from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import ISSUER, REVOKE, RegisteredClient, app_for, client_credentials_token, unused_port
from tests.resource.conftest import ScriptedSource
from tests.resource.test_fastapi import ASGIClient
from tests.resource.test_fastapi import _api as fastapi_api
from tests.resource.test_flask import _api as flask_api
from tests.tcp_proxy import TcpProxy


def eventually(condition: Callable[[], bool], within: float) -> float:
    """Seconds until ``condition()`` held, polling every 10 ms; fail after ``within`` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            pytest.fail(f"not within {within} s")
        time.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
def subscribers() -> Iterator[list[RevocationSubscriber]]:
    """Subscribers a test starts; all stopped at the end."""
    started: list[RevocationSubscriber] = []
    yield started
    for subscriber in started:
        subscriber.stop()


def _subscribe(
    started: list[RevocationSubscriber], url: str, *caches: TokenCache, **options: Any
) -> RevocationSubscriber:
    subscriber = RevocationSubscriber(url, *caches, **options)
    started.append(subscriber)
    subscriber.start()
    return subscriber


def _publish(redis_url: str, channel: str, digests: list[str]) -> None:
    with closing(RevocationPublisher(redis_url, channel=channel)) as publisher:
        publisher.publish(digests)


@pytest.mark.redis
def test_a_published_revocation_drops_the_entry_from_every_cache(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    token, found = source.add()
    caches = [TokenCache(source, ttl=300), TokenCache(source, ttl=300)]
    subscriber = _subscribe(subscribers, redis_url, *caches, channel=revocation_channel)
    assert subscriber.wait_subscribed(5)
    for cache in caches:
        cache.lookup(token, found.digest)
        assert len(cache) == 1
    _publish(redis_url, revocation_channel, [found.digest, "0" * 64])
    eventually(lambda: all(len(cache) == 0 for cache in caches), within=1)


@pytest.mark.redis
def test_other_channels_are_not_heard(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    token, found = source.add()
    cache = TokenCache(source, ttl=300)
    assert _subscribe(subscribers, redis_url, cache, channel=revocation_channel).wait_subscribed(5)
    cache.lookup(token, found.digest)
    _publish(redis_url, revocation_channel + ":other", [found.digest])
    time.sleep(0.3)
    assert len(cache) == 1


@pytest.mark.redis
def test_a_malformed_message_is_ignored_and_logged(
    redis_url: str,
    revocation_channel: str,
    source: ScriptedSource,
    subscribers: list[RevocationSubscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import redis

    token, found = source.add()
    cache = TokenCache(source, ttl=300)
    assert _subscribe(subscribers, redis_url, cache, channel=revocation_channel).wait_subscribed(5)
    cache.lookup(token, found.digest)
    client = redis.Redis.from_url(redis_url)
    try:
        with caplog.at_level(logging.WARNING, logger="tessera.resource"):
            client.publish(revocation_channel, b"{not json")
            _publish(redis_url, revocation_channel, [found.digest])
            eventually(lambda: len(cache) == 0, within=1)  # the good message after it still works
    finally:
        client.close()
    assert "ignored a message" in caplog.text


# the end-to-end path: a real authorization server, a real API, a 300 s cache


def _auth_app(sqlite_url: str, store: Store, redis_url: str, channel: str) -> Flask:
    return app_for(store, sqlite_url, TESSERA_REDIS_URL=redis_url, TESSERA_REVOCATION_CHANNEL=channel)


@pytest.mark.redis
@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_a_revoked_token_is_refused_by_the_api_within_one_second(
    sqlite_url: str,
    store: Store,
    service: RegisteredClient,
    redis_url: str,
    revocation_channel: str,
    subscribers: list[RevocationSubscriber],
    framework: str,
) -> None:
    auth = _auth_app(sqlite_url, store, redis_url, revocation_channel)
    auth_client = auth.test_client()
    assert service.secret is not None
    source = IntrospectionSource(ISSUER, service.client_id, service.secret, transport=httpx.WSGITransport(app=auth))

    def api(cache: TokenCache) -> Callable[[str], int]:
        validator = TokenValidator(cache)
        if framework == "flask":
            flask_client = flask_api(FlaskProtector(validator)).test_client()
            return lambda token: flask_client.get("/data", headers={"Authorization": f"Bearer {token}"}).status_code
        asgi_client = ASGIClient(fastapi_api(FastAPIProtector(validator)))
        return lambda token: asgi_client.get("/data", headers={"Authorization": f"Bearer {token}"}).status_code

    subscribed_cache = TokenCache(source, ttl=300)
    unsubscribed_cache = TokenCache(source, ttl=300)  # the control: what a 300 s cache does on its own
    call_api, call_control = api(subscribed_cache), api(unsubscribed_cache)
    assert _subscribe(subscribers, redis_url, subscribed_cache, channel=revocation_channel).wait_subscribed(5)
    with closing(source):
        token = client_credentials_token(auth_client, service)
        assert call_api(token) == 200 and call_control(token) == 200
        assert len(subscribed_cache) == 1 and len(unsubscribed_cache) == 1

        assert auth_client.post(REVOKE, data={"token": token}, headers=service.basic).status_code == 200
        elapsed = eventually(lambda: call_api(token) == 401, within=1)

        assert call_control(token) == 200  # without the event, the cache would have served it for 300 s
        assert elapsed < 1


# Redis away and back


def test_without_redis_it_starts_and_the_api_keeps_serving(
    source: ScriptedSource, subscribers: list[RevocationSubscriber], caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = source.add()
    cache = TokenCache(source, ttl=300)
    validator = TokenValidator(cache)
    with caplog.at_level(logging.WARNING, logger="tessera.resource"):
        started = time.monotonic()
        subscriber = _subscribe(subscribers, f"redis://127.0.0.1:{unused_port()}/0", cache, max_backoff=0.05)
        assert time.monotonic() - started < 0.5  # start() does not wait for Redis
        assert validator.validate(f"Bearer {token}", ["api"]).client_id == "svc"
        time.sleep(0.3)  # several reconnection attempts
        assert not subscriber.subscribed
        assert validator.validate(f"Bearer {token}", ["api"]).client_id == "svc"
    assert caplog.text.count("Redis unreachable") == 1  # said once, not once per attempt
    started = time.monotonic()
    subscriber.stop()
    assert time.monotonic() - started < 1


@pytest.mark.redis
def test_redis_going_away_falls_back_to_the_ttl_and_catches_up_when_back(
    redis_url: str,
    revocation_channel: str,
    redis_proxy: tuple[TcpProxy, str],
    source: ScriptedSource,
    subscribers: list[RevocationSubscriber],
) -> None:
    proxy, proxied_url = redis_proxy
    (kept, kept_found), (revoked, revoked_found) = source.add(), source.add()
    cache = TokenCache(source, ttl=300)
    validator = TokenValidator(cache)
    subscriber = _subscribe(subscribers, proxied_url, cache, channel=revocation_channel, max_backoff=0.1, timeout=0.5)
    assert subscriber.wait_subscribed(5)
    for token in (kept, revoked):
        validator.validate(f"Bearer {token}")

    proxy.cut()
    eventually(lambda: not subscriber.subscribed, within=2)
    # revoked while the subscriber cannot hear: the server's database says so, the cache does not know
    del source.answers[revoked_found.digest]
    _publish(redis_url, revocation_channel, [revoked_found.digest])
    time.sleep(0.3)
    calls = source.calls
    assert validator.validate(f"Bearer {revoked}") == revoked_found  # served from the cache: the TTL bound
    assert validator.validate(f"Bearer {kept}") == kept_found  # the API keeps serving
    assert source.calls == calls

    proxy.restore()
    assert subscriber.wait_subscribed(5)
    # back: what was missed is read from the stream and applied, and nothing else is forgotten
    with pytest.raises(InvalidToken):
        validator.validate(f"Bearer {revoked}")
    calls = source.calls
    assert validator.validate(f"Bearer {kept}") == kept_found
    assert source.calls == calls, "the kept token's entry was not cleared"
    assert subscriber.gaps == 0
    # and events flow again
    _publish(redis_url, revocation_channel, [kept_found.digest])
    eventually(lambda: cache.cached(kept_found.digest) is not kept_found, within=1)


@pytest.mark.redis
def test_a_connection_that_dies_silently_is_noticed_by_ping(
    redis_url: str,
    revocation_channel: str,
    redis_proxy: tuple[TcpProxy, str],
    source: ScriptedSource,
    subscribers: list[RevocationSubscriber],
) -> None:
    proxy, proxied_url = redis_proxy
    cache = TokenCache(source, ttl=300)
    subscriber = _subscribe(
        subscribers, proxied_url, cache, channel=revocation_channel, ping_interval=0.2, timeout=0.3, max_backoff=0.1
    )
    assert subscriber.wait_subscribed(5)
    time.sleep(0.5)  # a quiet channel answered by pings keeps the subscription
    assert subscriber.subscribed
    proxy.freeze()
    eventually(lambda: not subscriber.subscribed, within=2)
    proxy.restore()
    assert subscriber.wait_subscribed(5)
    token, found = source.add()
    cache.lookup(token, found.digest)
    _publish(redis_url, revocation_channel, [digest(token)])
    eventually(lambda: len(cache) == 0, within=1)


def test_a_malformed_redis_url_fails_at_once(source: ScriptedSource) -> None:
    with pytest.raises(ValueError):
        RevocationSubscriber("http://127.0.0.1:6379", TokenCache(source))


class _BrokenOnce(TokenCache):
    def __init__(self, source: ScriptedSource) -> None:
        super().__init__(source, ttl=300)
        self.broken = True

    def drop(self, token_digests: Any) -> int:
        if self.broken:
            self.broken = False
            raise RuntimeError("a bug in a cache")
        return super().drop(token_digests)


@pytest.mark.redis
def test_an_unexpected_error_does_not_end_the_subscriber(
    redis_url: str,
    revocation_channel: str,
    source: ScriptedSource,
    subscribers: list[RevocationSubscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    (token, found), (other, other_found) = source.add(), source.add()
    cache = _BrokenOnce(source)
    subscriber = _subscribe(subscribers, redis_url, cache, channel=revocation_channel)
    assert subscriber.wait_subscribed(5)
    cache.lookup(other, other_found.digest)
    with caplog.at_level(logging.ERROR, logger="tessera.resource"):
        _publish(redis_url, revocation_channel, ["0" * 64])
        # the failed drop removed nothing; only subscribing again clears the cache
        eventually(lambda: len(cache) == 0 and subscriber.subscribed, within=2)
    assert not cache.broken and "unexpected error" in caplog.text
    cache.lookup(token, found.digest)
    _publish(redis_url, revocation_channel, [found.digest])
    eventually(lambda: len(cache) == 0, within=1)


# the stream: not-before events, catching up, falling behind, the old channel


def _as_user(source: ScriptedSource, subject: str, client_id: str = "svc") -> tuple[str, AccessToken]:
    token, found = source.add(username=f"user{subject}")
    found = dataclasses.replace(found, subject=subject, client_id=client_id)
    source.answers[found.digest] = found
    return token, found


@pytest.mark.redis
def test_a_not_before_event_drops_every_token_of_the_user_and_nothing_else(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    cache = TokenCache(source, ttl=300)
    assert _subscribe(subscribers, redis_url, cache, channel=revocation_channel).wait_subscribed(5)
    mine = [_as_user(source, "7") for _ in range(3)]
    other = _as_user(source, "8")
    for token, found in [*mine, other]:
        cache.lookup(token, found.digest)
    with closing(RevocationPublisher(redis_url, channel=revocation_channel)) as publisher:
        publisher.not_before([found.digest for _, found in mine], subject="7")
    eventually(lambda: len(cache) == 1, within=1)
    assert cache.cached(other[1].digest) == other[1]


@pytest.mark.redis
def test_a_subscriber_stopped_and_started_again_applies_what_it_missed(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    (kept, kept_found), (revoked, revoked_found), (user_token, user_found) = (
        source.add(),
        source.add(),
        _as_user(source, "9"),
    )
    cache = TokenCache(source, ttl=300)
    subscriber = _subscribe(subscribers, redis_url, cache, channel=revocation_channel)
    assert subscriber.wait_subscribed(5)
    for token, found in [(kept, kept_found), (revoked, revoked_found), (user_token, user_found)]:
        cache.lookup(token, found.digest)
    subscriber.stop()
    with closing(RevocationPublisher(redis_url, channel=revocation_channel)) as publisher:
        publisher.publish([revoked_found.digest])
        publisher.not_before([user_found.digest], subject="9")
    assert len(cache) == 3  # nobody listening
    subscriber.start()
    assert subscriber.wait_subscribed(5)
    # caught up before it says it is subscribed, and only what was revoked is gone
    assert cache.cached(revoked_found.digest) is MISS and cache.cached(user_found.digest) is MISS
    assert cache.cached(kept_found.digest) == kept_found
    assert subscriber.gaps == 0


@pytest.mark.redis
def test_a_subscriber_that_fell_behind_the_retention_empties_its_cache(
    redis_url: str,
    revocation_channel: str,
    source: ScriptedSource,
    subscribers: list[RevocationSubscriber],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens = [source.add() for _ in range(3)]
    cache = TokenCache(source, ttl=300)
    subscriber = _subscribe(subscribers, redis_url, cache, channel=revocation_channel)
    assert subscriber.wait_subscribed(5)
    for token, found in tokens:
        cache.lookup(token, found.digest)
    subscriber.stop()
    # a stream kept to 10 entries: 300 revocations later, what it did not read is gone
    with closing(RevocationPublisher(redis_url, channel=revocation_channel, maxlen=10)) as publisher:
        publisher.publish([tokens[0][1].digest])
        for _ in range(300):
            publisher.publish(["0" * 64])
    with caplog.at_level(logging.WARNING, logger="tessera.resource"):
        subscriber.start()
        assert subscriber.wait_subscribed(5)
    assert len(cache) == 0 and subscriber.gaps == 1
    assert "fell behind" in caplog.text
    # and it goes on from the present
    token, found = source.add()
    cache.lookup(token, found.digest)
    _publish(redis_url, revocation_channel, [found.digest])
    eventually(lambda: len(cache) == 0, within=1)


@pytest.mark.redis
def test_a_server_of_the_previous_release_is_still_heard_on_the_old_channel(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    import redis

    token, found = source.add()
    cache = TokenCache(source, ttl=300)
    assert _subscribe(subscribers, redis_url, cache, channel=revocation_channel).wait_subscribed(5)
    cache.lookup(token, found.digest)
    conn = redis.Redis.from_url(redis_url)
    try:
        conn.publish(revocation_channel, encode_revoked([found.digest]))  # what the previous release sends
    finally:
        conn.close()
    eventually(lambda: len(cache) == 0, within=1)


@pytest.mark.redis
def test_without_the_old_channel_only_the_stream_is_heard(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    import redis

    token, found = source.add()
    cache = TokenCache(source, ttl=300)
    assert _subscribe(subscribers, redis_url, cache, channel=revocation_channel, legacy=False).wait_subscribed(5)
    cache.lookup(token, found.digest)
    conn = redis.Redis.from_url(redis_url)
    try:
        conn.publish(revocation_channel, encode_revoked([found.digest]))
    finally:
        conn.close()
    time.sleep(0.5)
    assert len(cache) == 1


@pytest.mark.redis
def test_a_stream_lost_by_redis_and_made_anew_empties_the_cache(
    redis_url: str, revocation_channel: str, source: ScriptedSource, subscribers: list[RevocationSubscriber]
) -> None:
    import redis

    cache = TokenCache(source, ttl=300)
    subscriber = _subscribe(subscribers, redis_url, cache, channel=revocation_channel)
    assert subscriber.wait_subscribed(5)
    for _ in range(3):
        _publish(redis_url, revocation_channel, ["0" * 64])
    eventually(lambda: subscriber._follower.position != "0-0", within=1)
    token, found = source.add()
    cache.lookup(token, found.digest)
    subscriber.stop()
    conn = redis.Redis.from_url(redis_url)
    try:
        conn.delete(revocation_channel)  # as a Redis restarted without its data: what was written meanwhile is gone
    finally:
        conn.close()
    for _ in range(5):
        _publish(redis_url, revocation_channel, ["0" * 64])
    subscriber.start()
    assert subscriber.wait_subscribed(5)
    assert len(cache) == 0 and subscriber.gaps == 1
