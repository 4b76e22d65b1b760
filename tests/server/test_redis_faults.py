"""Redis goes away under a server configured with ``TESSERA_REDIS_URL``: signing in, issuing, introspecting
and revoking tokens go on (Redis only holds shared rate-limit counters, which fall back to this process, and
carries revocation events, whose publishing failure is logged), nothing answers 5xx, and Redis is used again
once it is back. A protected API keeps validating tokens meanwhile; a revocation reaches it within its cache
bound instead of at once.

Redis is "stopped" for this server alone by a TCP proxy (``tests/tcp_proxy.py``); keys carry a prefix and
events a channel of the test's own. (The subscriber's own reconnection is tested in
``tests/resource/test_revocation.py``.)
"""

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask

from tessera.resource import LocalSource, RevocationSubscriber, TokenCache, TokenValidator
from tessera.resource.flask import ResourceProtector
from tessera.store import Store
from tessera.web.context import server_of
from tests.conftest import INTROSPECT, REVOKE, TOKEN, app_for, csrf_from
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.redis

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(urlsplit(redis_url).port or 6379) as proxy:
        yield proxy


def _proxied(redis_url: str, proxy: TcpProxy) -> str:
    """``redis_url``, its database too, by way of the proxy."""
    return urlsplit(redis_url)._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()


@pytest.fixture
def redis_app(
    store: Store,
    sqlite_url: str,
    redis_url: str,
    redis_proxy: TcpProxy,
    redis_prefix: str,
    revocation_channel: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Flask]:
    monkeypatch.setattr("tessera.ratelimit.REDIS_RETRY_AFTER", 0.2)
    app = app_for(
        store,
        sqlite_url,
        TESSERA_REDIS_URL=_proxied(redis_url, redis_proxy),
        TESSERA_REDIS_PREFIX=redis_prefix,
        TESSERA_REVOCATION_CHANNEL=revocation_channel,
        TESSERA_TOKEN_LIMIT="1000/minute",
        TESSERA_INTROSPECTION_LIMIT="1000/minute",
    )
    yield app
    server_of(app).context.rate_limits.close()


def _keys(redis_url: str, prefix: str) -> list[bytes]:
    conn = redis.Redis.from_url(redis_url)
    try:
        return list(conn.scan_iter(f"{prefix}:*"))
    finally:
        conn.close()


def _traffic(app: Flask, service: Any) -> list[int]:
    """One of each: token, introspection, revocation, failed and successful sign-in. Returns the statuses."""
    client = app.test_client()
    statuses = []
    issued = client.post(TOKEN, data=CC, headers=service.basic)
    statuses.append(issued.status_code)
    token = issued.get_json()["access_token"]
    answer = client.post(INTROSPECT, data={"token": token}, headers=service.basic)
    statuses.append(answer.status_code)
    assert answer.get_json()["active"] is True
    statuses.append(client.post(REVOKE, data={"token": token}, headers=service.basic).status_code)
    assert client.post(INTROSPECT, data={"token": token}, headers=service.basic).get_json() == {"active": False}
    for password, expected in (("wrong", 200), ("correct horse", 303)):
        csrf = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": "alice", "password": password, "csrf_token": csrf})
        assert response.status_code == expected, response.get_data(as_text=True)
        statuses.append(response.status_code)
    return statuses


def test_everything_keeps_working_while_redis_is_down(
    redis_app: Flask, redis_proxy: TcpProxy, redis_url: str, redis_prefix: str, service, user, caplog
) -> None:
    assert _traffic(redis_app, service) == [200, 200, 200, 200, 303]
    assert _keys(redis_url, redis_prefix), "the rate limits did not use Redis"

    redis_proxy.cut()
    with caplog.at_level("WARNING"):
        started = time.perf_counter()
        assert _traffic(redis_app, service) == [200, 200, 200, 200, 303]
        assert time.perf_counter() - started < 5
    assert "rate-limit storage unreachable" in caplog.text
    assert "could not publish" in caplog.text  # the revocation's event was lost, and said so
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # logged as a warning, no traceback

    redis_proxy.restore()
    time.sleep(0.3)
    before = redis_proxy.accepted
    assert _traffic(redis_app, service) == [200, 200, 200, 200, 303]
    assert redis_proxy.accepted > before, "Redis was not used again after it came back"


def test_rate_limits_still_hold_while_redis_is_down(redis_app: Flask, redis_proxy: TcpProxy, service, user) -> None:
    redis_proxy.cut()
    client = redis_app.test_client()
    statuses = []
    for _ in range(6):
        csrf = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": "alice", "password": "wrong", "csrf_token": csrf})
        statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429]


def test_a_protected_api_keeps_validating_and_revocation_falls_back_to_the_cache_bound(
    redis_app: Flask, redis_proxy: TcpProxy, redis_url: str, revocation_channel: str, sqlite_url: str, service
) -> None:
    ttl = 1.0
    source = LocalSource.from_url(sqlite_url)
    cache = TokenCache(source, ttl=ttl)
    protect = ResourceProtector(TokenValidator(cache))
    api = Flask("api")

    @api.get("/data")
    @protect("api")
    def data() -> str:
        return "Protected API data."

    proxied = _proxied(redis_url, redis_proxy)
    subscriber = RevocationSubscriber(proxied, cache, channel=revocation_channel, max_backoff=0.1, timeout=0.5)
    server, caller = redis_app.test_client(), api.test_client()

    def issue() -> str:
        return str(server.post(TOKEN, data=CC, headers=service.basic).get_json()["access_token"])

    def status(token: str) -> int:
        return caller.get("/data", headers={"Authorization": f"Bearer {token}"}).status_code

    def revoke(token: str) -> None:
        assert server.post(REVOKE, data={"token": token}, headers=service.basic).status_code == 200

    with subscriber:
        assert subscriber.wait_subscribed(5)
        token = issue()
        assert status(token) == 200
        revoke(token)
        assert _eventually(lambda: status(token) == 401, within=0.5)  # the event, well before the TTL

        redis_proxy.cut()
        token = issue()
        assert status(token) == 200  # validation does not need Redis
        revoke(token)
        revoked_at = time.monotonic()
        assert _eventually(lambda: status(token) == 401, within=ttl + 1)  # the cache bound, no event
        assert time.monotonic() - revoked_at <= ttl + 1

        redis_proxy.restore()
        assert subscriber.wait_subscribed(5)
        token = issue()
        assert status(token) == 200
        revoke(token)
        assert _eventually(lambda: status(token) == 401, within=0.5)  # events flow again
    source.close()


def _eventually(check: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())
