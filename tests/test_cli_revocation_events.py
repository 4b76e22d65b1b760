"""The CLI commands that revoke tokens publish their digests when TESSERA_REDIS_URL is set."""

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tessera.cli import main
from tessera.events import Changed, NotBefore, changes_stream, decode_entry, decode_revoked
from tessera.passwords import hash_password
from tessera.store import NewToken, Store
from tessera.tokens import digest, random_id
from tests.conftest import ChannelListener, RegisteredClient, register_client, unused_port


def _issue(store: Store, client_id: str, user_id: int | None) -> str:
    now = int(time.time())
    access = digest(random_id())
    store.tokens.insert(NewToken(access, None, client_id, user_id, "api", random_id(), now, now + 3600, None))
    return access


def _run(
    sqlite_url: str, redis_url: str | None, channel: str, *args: str, input: str | None = None
) -> tuple[int, str, str]:
    env = {"TESSERA_DATABASE_URL": sqlite_url, "TESSERA_REVOCATION_CHANNEL": channel, "TESSERA_REDIS_URL": redis_url}
    result = CliRunner().invoke(main, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def world(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[RegisteredClient, list[str]]:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    alice = store.users.create("alice", hash_password("correct horse"))
    registered = register_client(store)
    return registered, [_issue(store, registered.client_id, alice.id), _issue(store, registered.client_id, alice.id)]


@pytest.mark.redis
@pytest.mark.parametrize(
    "command",
    [("users", "disable", "alice"), ("tokens", "revoke", "--user", "alice"), ("tokens", "revoke", "--client", "")],
)
def test_revoking_commands_publish_the_digests(
    sqlite_url: str,
    redis_url: str,
    revocation_channel: str,
    channel_listener: ChannelListener,
    world: tuple[RegisteredClient, list[str]],
    command: tuple[str, ...],
) -> None:
    registered, issued = world
    args = tuple(registered.client_id if a == "" else a for a in command)
    code, out, err = _run(sqlite_url, redis_url, revocation_channel, *args)
    assert code == 0, err
    assert "Revoked 2 token pairs" in out and err == ""
    payload = channel_listener.next_payload()
    assert payload is not None and sorted(decode_revoked(payload)) == sorted(issued)


@pytest.mark.redis
def test_a_new_password_publishes_the_users_tokens(
    sqlite_url: str,
    redis_url: str,
    revocation_channel: str,
    channel_listener: ChannelListener,
    world: tuple[RegisteredClient, list[str]],
) -> None:
    _, issued = world
    args = ("users", "set-password", "alice", "--password-stdin")
    code, out, err = _run(sqlite_url, redis_url, revocation_channel, *args, input="new password\n")
    assert code == 0, err
    assert "Revoked 2 token pairs" in out and err == ""
    payload = channel_listener.next_payload()
    assert payload is not None and sorted(decode_revoked(payload)) == sorted(issued)


@pytest.mark.redis
def test_deleting_a_client_publishes_its_tokens(
    sqlite_url: str,
    redis_url: str,
    revocation_channel: str,
    channel_listener: ChannelListener,
    world: tuple[RegisteredClient, list[str]],
) -> None:
    registered, issued = world
    code, _, err = _run(sqlite_url, redis_url, revocation_channel, "clients", "delete", registered.client_id)
    assert code == 0, err
    payload = channel_listener.next_payload()
    assert payload is not None and sorted(decode_revoked(payload)) == sorted(issued)


@pytest.mark.redis
def test_nothing_revoked_nothing_published(
    sqlite_url: str, redis_url: str, revocation_channel: str, channel_listener: ChannelListener, store: Store
) -> None:
    store.users.create("bob", hash_password("pw"))
    code, out, _ = _run(sqlite_url, redis_url, revocation_channel, "tokens", "revoke", "--user", "bob")
    assert code == 0 and out == "Nothing to revoke.\n"
    assert channel_listener.next_payload(timeout=0.3) is None


def test_redis_down_is_a_warning_and_the_tokens_are_revoked(
    sqlite_url: str, store: Store, world: tuple[RegisteredClient, list[str]]
) -> None:
    _, issued = world
    code, out, err = _run(sqlite_url, f"redis://127.0.0.1:{unused_port()}/0", "c", "users", "disable", "alice")
    assert code == 0
    assert "Revoked 2 token pairs" in out
    assert err.startswith("Warning: could not publish on Redis") and err.count("\n") == 1
    assert all(store.tokens.active(d) is None for d in issued)


def _stream(redis_url: str, stream: str) -> list[object]:
    import redis

    conn = redis.Redis.from_url(redis_url)
    try:
        return [decode_entry(fields) for _, fields in conn.xrange(stream)]  # type: ignore[arg-type]
    finally:
        conn.close()


@pytest.mark.redis
@pytest.mark.parametrize(
    "command",
    [
        ("tokens", "revoke", "--user", "alice"),
        ("users", "disable", "alice"),
        ("users", "delete", "alice", "--yes"),
        ("tokens", "revoke", "--client", ""),
        ("clients", "delete", ""),
    ],
)
def test_revoking_by_user_or_client_is_one_not_before_event(
    sqlite_url: str,
    redis_url: str,
    revocation_channel: str,
    store: Store,
    world: tuple[RegisteredClient, list[str]],
    command: tuple[str, ...],
) -> None:
    registered, _ = world
    for _ in range(50):  # however many tokens: one event
        _issue(store, registered.client_id, None)
    alice = store.users.by_name("alice")
    assert alice is not None
    args = tuple(registered.client_id if a == "" else a for a in command)
    code, _, err = _run(sqlite_url, redis_url, revocation_channel, *args)
    assert code == 0, err
    (event,) = _stream(redis_url, revocation_channel)
    assert isinstance(event, NotBefore)
    if "alice" in args:
        assert (event.subject, event.client_id) == (alice.subject, None)
    else:
        assert (event.subject, event.client_id) == (None, registered.client_id)
    assert abs(event.at - time.time()) < 5


@pytest.mark.redis
def test_client_and_user_changes_go_on_the_changes_stream(
    sqlite_url: str, redis_url: str, redis_prefix: str, world: tuple[RegisteredClient, list[str]], store: Store
) -> None:
    registered, _ = world
    alice = store.users.by_name("alice")
    assert alice is not None
    env = {"TESSERA_DATABASE_URL": sqlite_url, "TESSERA_REDIS_URL": redis_url, "TESSERA_REDIS_PREFIX": redis_prefix}
    for args in (["clients", "update", registered.client_id, "--name", "New"], ["users", "disable", "alice"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
    assert _stream(redis_url, changes_stream(redis_prefix)) == [
        Changed("client", registered.client_id),
        Changed("user", str(alice.id)),
    ]
