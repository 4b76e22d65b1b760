"""The revocation events' wire format and publisher (tessera.events)."""

import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tessera.config import Settings
from tessera.events import (
    CHANGE_KINDS,
    MAX_DIGESTS_PER_MESSAGE,
    REVOCATION_CHANNEL,
    Changed,
    Event,
    MalformedEvent,
    NotBefore,
    PublishError,
    RevocationPublisher,
    Revoked,
    changes_stream,
    decode_entry,
    decode_revoked,
    encode_entry,
    encode_revoked,
)
from tessera.tokens import TokenKind, digest, mint
from tests.conftest import ChannelListener, unused_port


def _digests(n: int) -> list[str]:
    return [digest(mint(TokenKind.ACCESS)) for _ in range(n)]


def test_a_message_is_a_compact_json_array_of_digests() -> None:
    digests = _digests(3)
    payload = encode_revoked(digests)
    assert json.loads(payload) == digests
    assert b" " not in payload
    assert decode_revoked(payload) == digests
    assert decode_revoked(payload.decode()) == digests


def test_only_digests_are_encoded_never_tokens() -> None:
    with pytest.raises(ValueError, match="digests only"):
        encode_revoked([mint(TokenKind.ACCESS)])
    with pytest.raises(ValueError):
        encode_revoked(["AB" * 32])  # upper case is not what tessera.tokens.digest produces


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b'{"revoked": []}', b'"' + b"a" * 64 + b'"', b"[1, 2]", b'["abc"]', b"\xff\xfe", b"[null]"],
)
def test_anything_else_on_the_channel_is_refused(payload: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode_revoked(payload)


def test_the_default_channel_is_the_settings_default() -> None:
    assert Settings().revocation_channel == REVOCATION_CHANNEL == "tessera:revoked"
    assert Settings.from_env({"TESSERA_REVOCATION_CHANNEL": "staging:revoked"}).revocation_channel == "staging:revoked"


@pytest.mark.redis
def test_publisher_sends_the_digests_to_subscribers(
    redis_url: str, revocation_channel: str, channel_listener: ChannelListener
) -> None:
    publisher = RevocationPublisher(redis_url, channel=revocation_channel)
    digests = _digests(2)
    try:
        assert publisher.publish(digests) == 1  # one subscriber: the listener
    finally:
        publisher.close()
    payload = channel_listener.next_payload()
    assert payload is not None and decode_revoked(payload) == digests


@pytest.mark.redis
def test_a_large_revocation_is_split_into_several_messages(
    redis_url: str, revocation_channel: str, channel_listener: ChannelListener
) -> None:
    digests = _digests(MAX_DIGESTS_PER_MESSAGE + 5)
    publisher = RevocationPublisher(redis_url, channel=revocation_channel)
    try:
        publisher.publish(digests)
    finally:
        publisher.close()
    first, second = channel_listener.next_payload(), channel_listener.next_payload()
    assert first is not None and second is not None
    assert decode_revoked(first) + decode_revoked(second) == digests
    assert len(decode_revoked(second)) == 5


def test_publish_without_redis_raises_a_clear_error_quickly() -> None:
    publisher = RevocationPublisher(f"redis://:hunter2@127.0.0.1:{unused_port()}/0")
    try:
        with pytest.raises(PublishError) as caught:
            publisher.publish(_digests(1))
    finally:
        publisher.close()
    assert "ConnectionError" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_as_a_listener_it_logs_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    publisher = RevocationPublisher(f"redis://127.0.0.1:{unused_port()}/0")
    digests = _digests(2)
    try:
        with caplog.at_level(logging.WARNING, logger="tessera.events"):
            publisher(digests)  # does not raise
    finally:
        publisher.close()
    assert "2 revoked token(s)" in caplog.text
    assert all(d not in caplog.text and d[:8] not in caplog.text for d in digests)


def test_a_server_without_redis_never_imports_it(tmp_path: Path) -> None:
    """redis-py costs each worker about 6 MiB; a server without ``TESSERA_REDIS_URL`` does not load it.
    (cryptography it always loads: the ID-token signing keys are decrypted with it.)"""
    script = (
        "import sys\n"
        "from tessera.config import Settings\n"
        "from tessera.app import create_app\n"
        f"create_app(Settings.from_env({{'TESSERA_DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}'}}))\n"
        "print('redis' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr


# stream entries


@pytest.mark.parametrize(
    "event",
    [
        Revoked(tuple(_digests(2))),
        NotBefore("42", None, 1_700_000_000),
        NotBefore(None, "billing", 1_700_000_000),
        NotBefore("42", "billing", 1_700_000_000),
        *(Changed(kind, "some-id") for kind in CHANGE_KINDS),
    ],
)
def test_every_event_survives_the_stream(event: Event) -> None:
    fields = encode_entry(event)
    assert decode_entry({k.encode(): v.encode() for k, v in fields.items()}) == event


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"kind": "dropped"},
        {"kind": "revoked", "digests": "[1]"},
        {"kind": "revoked"},
        {"kind": "not_before", "sub": "42"},
        {"kind": "not_before", "at": "-1", "sub": "42"},
        {"kind": "not_before", "at": "1700000000"},
        {"kind": "not_before", "at": "1700000000", "sub": ""},
        {"kind": "client"},
        {"kind": "client", "id": "x" * 600},
        {"kind": "user", "id": "a\x1bb"},
    ],
)
def test_anything_else_in_a_stream_is_refused(fields: dict[str, str]) -> None:
    with pytest.raises(MalformedEvent):
        decode_entry(fields)
    with pytest.raises(MalformedEvent):
        decode_entry({b"kind": b"\xff"})


def test_a_change_of_an_unknown_kind_is_not_written() -> None:
    with pytest.raises(ValueError):
        encode_entry(Changed("scope", "api"))
    with pytest.raises(ValueError):
        NotBefore(None, None, 0)


def _entries(redis_url: str, stream: str) -> list[Event]:
    import redis

    conn = redis.Redis.from_url(redis_url)
    try:
        return [decode_entry(fields) for _, fields in conn.xrange(stream)]  # type: ignore[arg-type]
    finally:
        conn.close()


@pytest.mark.redis
def test_a_revocation_goes_on_the_stream_and_the_old_channel(
    redis_url: str, revocation_channel: str, channel_listener: ChannelListener
) -> None:
    digests = _digests(MAX_DIGESTS_PER_MESSAGE + 1)
    with closing(RevocationPublisher(redis_url, channel=revocation_channel)) as publisher:
        publisher.publish(digests)
    entries = _entries(redis_url, revocation_channel)
    assert entries == [Revoked(tuple(digests[:MAX_DIGESTS_PER_MESSAGE])), Revoked((digests[-1],))]
    first, second = channel_listener.next_payload(), channel_listener.next_payload()
    assert first is not None and second is not None and decode_revoked(first) + decode_revoked(second) == digests


@pytest.mark.redis
def test_a_not_before_event_is_one_entry_however_many_tokens(
    redis_url: str, revocation_channel: str, channel_listener: ChannelListener
) -> None:
    digests = _digests(2 * MAX_DIGESTS_PER_MESSAGE + 1)
    with closing(RevocationPublisher(redis_url, channel=revocation_channel)) as publisher:
        publisher.not_before(digests, subject="42", at=1_700_000_000)
    assert _entries(redis_url, revocation_channel) == [NotBefore("42", None, 1_700_000_000)]
    # the previous release's subscribers still get every digest on the old channel
    heard = [decode_revoked(p) for p in iter(channel_listener.next_payload, None)]
    assert sum(heard, []) == digests and len(heard) == 3


@pytest.mark.redis
def test_the_stream_is_bounded(redis_url: str, revocation_channel: str) -> None:
    import redis

    with closing(RevocationPublisher(redis_url, channel=revocation_channel, maxlen=10)) as publisher:
        for _ in range(300):
            publisher.publish(_digests(1))
    conn = redis.Redis.from_url(redis_url)
    try:
        # approximate trimming removes whole nodes (100 entries): between the bound and a node above it
        assert 10 <= conn.xlen(revocation_channel) < 300
    finally:
        conn.close()


@pytest.mark.redis
def test_old_entries_are_trimmed_by_age(redis_url: str, revocation_channel: str) -> None:
    import redis

    conn = redis.Redis.from_url(redis_url)
    try:
        for _ in range(250):  # more than a node of entries, an hour and more old
            conn.xadd(
                revocation_channel, {"kind": "revoked", "digests": "[]"}, id=f"{int(time.time() * 1000) - 7_200_000}-*"
            )
        with closing(RevocationPublisher(redis_url, channel=revocation_channel, max_age=3600)) as publisher:
            publisher.publish(_digests(1))
        assert conn.xlen(revocation_channel) < 251
    finally:
        conn.close()


@pytest.mark.redis
def test_a_change_goes_on_the_changes_stream(redis_url: str, redis_prefix: str) -> None:
    stream = changes_stream(redis_prefix)
    with closing(RevocationPublisher(redis_url, changes=stream)) as publisher:
        publisher.changed("client", "billing")
        publisher.changed("user", "42")
    assert _entries(redis_url, stream) == [Changed("client", "billing"), Changed("user", "42")]


def _kept_publisher(port: int, *, redeliver_for: float, redeliver_max: int = 100_000) -> RevocationPublisher:
    return RevocationPublisher(
        f"redis://127.0.0.1:{port}/0",
        channel="tessera:revoked",
        changes="tessera:changes",
        timeout=0.2,
        redeliver_for=redeliver_for,
        redeliver_max=redeliver_max,
    )


def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.02)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_what_could_not_be_published_is_sent_as_soon_as_redis_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server process (``redeliver_for``) keeps what Redis did not take, a failover's few seconds say, and
    sends it when Redis is back: caches drop those tokens then, not at the end of their TTL."""

    port = unused_port()
    digests = _digests(3)
    with caplog.at_level(logging.INFO, logger="tessera.events"), closing(_kept_publisher(port, redeliver_for=60)) as p:
        assert p.publish(digests) == 0  # no error: kept
        p.not_before([], subject="42", at=1_700_000_000)
        p.changed("client", "billing")
        assert p.pending == 3 + 1 + 1 + 3  # the events, and the digests for the old channel
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "sending it again when Redis answers" in warnings[0].getMessage()

        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )
        try:
            _until(lambda: p.pending == 0)
            revoked = _entries(f"redis://127.0.0.1:{port}/0", "tessera:revoked")
            changes = _entries(f"redis://127.0.0.1:{port}/0", "tessera:changes")
        finally:
            server.kill()
            server.wait(timeout=10)
    assert revoked == [Revoked(tuple(digests)), NotBefore("42", None, 1_700_000_000)]
    assert changes == [Changed("client", "billing")]
    assert "Redis answers again" in caplog.text
    assert all(d not in caplog.text for d in digests)


def test_what_was_kept_longer_than_redeliver_for_is_given_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tessera.events"):
        with closing(_kept_publisher(unused_port(), redeliver_for=0.3)) as publisher:
            publisher.publish(_digests(2))
            _until(lambda: publisher.pending == 0)
    assert "gave up publishing 4 event(s) and digest(s)" in caplog.text  # 2 in the entry, 2 for the old channel
    assert "never published" not in caplog.text


def test_beyond_redeliver_max_the_oldest_are_given_up_first(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tessera.events"):
        with closing(_kept_publisher(unused_port(), redeliver_for=60, redeliver_max=3)) as publisher:
            publisher.changed("client", "first")
            publisher.changed("client", "second")
            publisher.changed("client", "third")
            publisher.changed("user", "fourth")
            assert publisher.pending == 3
            assert [b.events for b in publisher._kept] == [  # noqa: SLF001
                (Changed("client", "second"),),
                (Changed("client", "third"),),
                (Changed("user", "fourth"),),
            ]
    assert "gave up publishing 1 event(s)" in caplog.text
    # what was still kept when the process ended is said too
    assert "3 event(s) and digest(s) were never published" in caplog.text
