"""``tessera users enable`` and ``tessera users delete``: what a person's account becomes, and what is left of it."""

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, text

from tessera.events import decode_revoked
from tessera.passwords import hash_password
from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import (
    TOKEN,
    ChannelListener,
    RegisteredClient,
    exchange,
    get_code,
    login,
    pkce_pair,
)
from tests.test_cli import Cli, _insert_token, _introspect, _signed_in_as

PAIR = "Revoked 1 token pair (access and refresh tokens)."


def _rows_of(store: Store, user_id: int) -> dict[str, int]:
    """How many rows of each table still belong to ``user_id``."""
    counts = {}
    with store.engine.connect() as conn:
        for table in ("tokens", "authorization_codes", "consents", "sessions"):
            counts[table] = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE user_id = :uid"), {"uid": user_id}
            ).scalar_one()
        counts["users"] = conn.execute(
            text("SELECT count(*) FROM users WHERE id = :uid"), {"uid": user_id}
        ).scalar_one()
    return counts


# enable


def test_enable_lets_a_disabled_user_sign_in_again_and_ended_things_stay_ended(
    cli: Cli,
    client: FlaskClient,
    store: Store,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
) -> None:
    verifier, challenge = pkce_pair()
    tokens = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json  # signs alice in
    cli.ok("users", "disable", "alice")

    assert cli.ok("users", "enable", "ALICE").stdout == "Enabled alice; they can sign in again.\n"

    enabled = store.users.by_name("alice")
    assert enabled is not None and not enabled.disabled
    assert cli.ok("users", "list").stdout == "alice\n"
    # what disabling ended stays ended: the session, the access token, the refresh token
    assert _signed_in_as(client) is None
    assert _introspect(client, service, tokens["access_token"]) == {"active": False}
    refreshed = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, headers=web_client.basic
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    # and the person signs in anew
    login(client)
    assert _signed_in_as(client) == "alice"


def test_enabling_an_enabled_user_changes_nothing_and_an_unknown_one_fails(cli: Cli, store: Store, user: Any) -> None:
    assert cli.ok("users", "enable", "alice").stdout == "Enabled alice; they can sign in again.\n"
    assert store.users.by_name("alice") == user
    assert cli.fails("users", "enable", "nobody") == "Error: no user 'nobody'"


# delete


def test_delete_removes_the_user_with_their_sessions_tokens_codes_and_consents(
    cli: Cli,
    app: Flask,
    client: FlaskClient,
    store: Store,
    web_client: RegisteredClient,
    service: RegisteredClient,
    user: Any,
) -> None:
    verifier, challenge = pkce_pair()
    tokens = exchange(client, web_client, get_code(client, web_client, challenge), verifier).json
    get_code(client, web_client, challenge)  # a code never redeemed
    bob = store.users.create("bob", hash_password("bob's password"))
    bobs = app.test_client()
    login(bobs, "bob", "bob's password")
    bobs_token, _, _ = _insert_token(store, web_client.client_id, bob.id)
    assert _rows_of(store, user.id) == {"tokens": 1, "authorization_codes": 2, "consents": 1, "sessions": 1, "users": 1}

    result = cli.ok("users", "delete", "Alice", "--yes")

    assert result.stdout == f"Deleted alice and signed them out. {PAIR}\n"
    assert store.users.by_name("alice") is None
    assert _rows_of(store, user.id) == {"tokens": 0, "authorization_codes": 0, "consents": 0, "sessions": 0, "users": 0}
    assert _signed_in_as(client) is None
    assert _introspect(client, service, tokens["access_token"]) == {"active": False}
    refreshed = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, headers=web_client.basic
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    assert cli.ok("users", "list").stdout == "bob\n"
    # nobody else is touched
    assert _signed_in_as(bobs) == "bob"
    assert store.tokens.active(digest(bobs_token)) is not None
    # the name is free again, for a new account that inherits nothing
    cli.ok("users", "create", "alice", "--password-stdin", input="violet kettle drum\n")
    again = store.users.by_name("alice")
    assert again is not None and store.consents.get(again.id, web_client.client_id) is None


def test_delete_asks_first_and_a_no_deletes_nothing(
    cli: Cli, client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    access, _, _ = _insert_token(store, web_client.client_id, user.id)
    for answer in ("n\n", "\n", ""):  # no, the default, and the end of input
        result = cli("users", "delete", "alice", input=answer)
        assert result.exit_code == 1
        assert "Delete the user alice with their sessions, tokens and consents? This cannot be undone" in result.stdout
        assert result.stderr == "Error: not confirmed: alice was not deleted\n"
    assert store.users.by_name("alice") == user
    assert store.tokens.active(digest(access)) is not None
    assert _signed_in_as(client) == "alice"

    result = cli("users", "delete", "alice", input="y\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(f"Deleted alice and signed them out. {PAIR}\n")
    assert store.users.by_name("alice") is None


def test_deleting_an_unknown_user_fails_before_asking(cli: Cli, store: Store) -> None:
    result = cli("users", "delete", "nobody", input="y\n")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "Error: no user 'nobody'\n"
    assert cli.fails("users", "delete", "nobody", "--yes") == "Error: no user 'nobody'"


def test_deleting_a_user_without_tokens_says_there_was_nothing_to_revoke(cli: Cli, store: Store, user: Any) -> None:
    result = cli.ok("users", "delete", "alice", "--yes")
    assert result.stdout == "Deleted alice and signed them out. Nothing to revoke.\n"
    assert result.stderr == ""  # nothing revoked: no warning about caches


def test_a_deletion_that_fails_changes_nothing(
    cli: Cli, store: Store, web_client: RegisteredClient, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction: a failure at the last statement (the user's row) leaves their tokens and sessions."""
    access, _, _ = _insert_token(store, web_client.client_id, user.id)

    def failing_delete(table: Any) -> Any:
        if table.name == "users":
            raise RuntimeError("the disk is full")
        return delete(table)

    monkeypatch.setattr("tessera.store.users.delete", failing_delete)
    with pytest.raises(RuntimeError):
        store.users.delete("alice")
    monkeypatch.undo()
    assert store.users.by_name("alice") == user
    assert store.tokens.active(digest(access)) is not None
    assert _rows_of(store, user.id)["tokens"] == 1


@pytest.mark.redis
def test_delete_publishes_the_revoked_tokens(
    cli: Cli,
    store: Store,
    web_client: RegisteredClient,
    user: Any,
    redis_url: str,
    revocation_channel: str,
    channel_listener: ChannelListener,
) -> None:
    issued = [digest(_insert_token(store, web_client.client_id, user.id)[0]) for _ in range(2)]
    result = cli.ok(
        "users", "delete", "alice", "--yes", TESSERA_REDIS_URL=redis_url, TESSERA_REVOCATION_CHANNEL=revocation_channel
    )
    assert "Revoked 2 token pairs (access and refresh tokens)." in result.stdout and result.stderr == ""
    payload = channel_listener.next_payload()
    assert payload is not None and sorted(decode_revoked(payload)) == sorted(issued)
