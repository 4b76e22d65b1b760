"""Every revocation the server makes is published on Redis when TESSERA_REDIS_URL is set."""

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tessera.events import NotBefore, decode_entry, decode_revoked
from tessera.store import Store
from tessera.tokens import digest
from tessera.web.context import server_of
from tests.conftest import (
    INTROSPECT,
    REVOKE,
    TOKEN,
    ChannelListener,
    RegisteredClient,
    app_for,
    client_credentials_token,
    exchange,
    get_code,
    pkce_pair,
    unused_port,
)


def _app(sqlite_url: str, store: Store, redis_url: str, channel: str = "tessera:revoked") -> Flask:
    return app_for(store, sqlite_url, TESSERA_REDIS_URL=redis_url, TESSERA_REVOCATION_CHANNEL=channel)


@pytest.fixture
def publishing_client(
    sqlite_url: str, store: Store, redis_url: str, revocation_channel: str, channel_listener: ChannelListener
) -> FlaskClient:
    return _app(sqlite_url, store, redis_url, revocation_channel).test_client()


def _published(listener: ChannelListener) -> list[str]:
    payload = listener.next_payload()
    assert payload is not None, "nothing was published"
    return decode_revoked(payload)


@pytest.mark.redis
def test_rfc7009_revocation_publishes_the_access_digest(
    publishing_client: FlaskClient, service: RegisteredClient, channel_listener: ChannelListener
) -> None:
    token = client_credentials_token(publishing_client, service)
    response = publishing_client.post(REVOKE, data={"token": token}, headers=service.basic)
    assert response.status_code == 200
    assert _published(channel_listener) == [digest(token)]


@pytest.mark.redis
def test_unknown_token_revocation_publishes_nothing(
    publishing_client: FlaskClient, service: RegisteredClient, channel_listener: ChannelListener
) -> None:
    response = publishing_client.post(REVOKE, data={"token": "tsr_at_nope"}, headers=service.basic)
    assert response.status_code == 200
    assert channel_listener.next_payload(timeout=0.3) is None


@pytest.mark.redis
def test_refresh_token_reuse_publishes_the_family(
    publishing_client: FlaskClient, web_client: RegisteredClient, user: object, channel_listener: ChannelListener
) -> None:
    verifier, challenge = pkce_pair()
    first = exchange(publishing_client, web_client, get_code(publishing_client, web_client, challenge), verifier).json
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = publishing_client.post(TOKEN, data=refresh, headers=web_client.basic).get_json(force=True)
    reused = publishing_client.post(TOKEN, data=refresh, headers=web_client.basic)
    assert reused.status_code == 400 and reused.json is not None and reused.json["error"] == "invalid_grant"
    # the rotation retires the first access token, the reuse revokes the live one of the family
    assert _published(channel_listener) == [digest(first["access_token"])]
    assert _published(channel_listener) == [digest(second["access_token"])]


@pytest.mark.redis
def test_code_replay_publishes_the_tokens_it_revokes(
    publishing_client: FlaskClient, web_client: RegisteredClient, user: object, channel_listener: ChannelListener
) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(publishing_client, web_client, challenge)
    issued = exchange(publishing_client, web_client, code, verifier).json
    replay = exchange(publishing_client, web_client, code, verifier)
    assert replay.status_code == 400
    assert _published(channel_listener) == [digest(issued["access_token"])]


def test_revocation_works_when_redis_is_down(
    sqlite_url: str, store: Store, service: RegisteredClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _app(sqlite_url, store, f"redis://127.0.0.1:{unused_port()}/0").test_client()
    token = client_credentials_token(client, service)
    with caplog.at_level(logging.WARNING, logger="tessera.events"):
        response = client.post(REVOKE, data={"token": token}, headers=service.basic)
    assert response.status_code == 200
    assert "could not publish" in caplog.text and token not in caplog.text
    assert client.post(INTROSPECT, data={"token": token}, headers=service.basic).json == {"active": False}


def test_without_redis_url_no_publisher_is_added(app: Flask) -> None:
    assert server_of(app).context.revocations.listeners == []


@pytest.mark.redis
def test_a_server_revoking_by_user_sends_one_not_before_event(
    sqlite_url: str, store: Store, redis_url: str, revocation_channel: str, channel_listener: ChannelListener
) -> None:
    import redis

    heard: list[list[str]] = []
    app = _app(sqlite_url, store, redis_url, revocation_channel)
    revocations = server_of(app).context.revocations
    revocations.listeners.insert(0, heard.append)  # a plain listener is told the digests
    digests = [digest(f"token {n}") for n in range(1500)]
    assert revocations.not_before(digests, subject="7", client_id="app") == digests
    conn = redis.Redis.from_url(redis_url)
    try:
        entries = [decode_entry(fields) for _, fields in conn.xrange(revocation_channel)]  # type: ignore[arg-type]
    finally:
        conn.close()
    assert len(entries) == 1 and isinstance(entries[0], NotBefore)
    assert (entries[0].subject, entries[0].client_id) == ("7", "app")
    assert heard == [digests]
    assert _published(channel_listener) + _published(channel_listener) == digests  # the old channel: every digest
