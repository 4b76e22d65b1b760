"""The revocation events' wire format and publisher (tessera.events)."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.config import Settings
from tessera.events import (
    MAX_DIGESTS_PER_MESSAGE,
    REVOCATION_CHANNEL,
    MalformedEvent,
    PublishError,
    RevocationPublisher,
    decode_revoked,
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
    """redis-py costs each worker about 6 MiB; a server without ``TESSERA_REDIS_URL`` does not load it."""
    script = (
        "import sys\n"
        "from tessera.config import Settings\n"
        "from tessera.app import create_app\n"
        f"create_app(Settings.from_env({{'TESSERA_DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}'}}))\n"
        "print('redis' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
