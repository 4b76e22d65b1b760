"""``tessera registration-tokens create``: initial access tokens for ``TESSERA_REGISTRATION=token``; and clients
registered over HTTP, listed and deleted by ``tessera clients`` like any other."""

from sqlalchemy import select, update

from tessera.store import InitialAccessToken, Store
from tessera.store.models import initial_access_tokens, registrations
from tessera.tokens import digest
from tests.conftest import ISSUER, app_for
from tests.test_cli import Cli

REGISTER = "/oauth/register"


def test_create_prints_the_token_once_and_stores_its_digest(cli: Cli, store: Store) -> None:
    created = cli.json("registration-tokens", "create", "--uses", "2", "--ttl", "600")
    token = created["initial_access_token"]
    assert token.startswith("tsr_ia_") and created["uses"] == 2 and created["expires_at"] > 0
    plain = cli.ok("registration-tokens", "create").stdout
    assert plain.startswith("initial_access_token: tsr_ia_")
    assert "any number of clients" in plain and "not shown again" in plain
    with store.engine.connect() as conn:
        rows = conn.execute(select(initial_access_tokens)).all()
    assert len(rows) == 2 and digest(token) in {row.digest for row in rows}
    assert token not in repr(rows)


def test_bad_uses_or_ttl_fail_in_one_line(cli: Cli, store: Store) -> None:
    assert "--uses must be 1 to" in cli.fails("registration-tokens", "create", "--uses", "0")
    assert "--ttl must be 1 to" in cli.fails("registration-tokens", "create", "--ttl", "-5")
    assert "--ttl must be 1 to" in cli.fails("registration-tokens", "create", "--ttl", "99999999999")
    assert "is not a valid integer" in cli.fails("registration-tokens", "create", "--uses", "many", usage=True)
    with store.engine.connect() as conn:
        assert conn.execute(select(initial_access_tokens)).all() == []


def test_a_client_registered_with_the_token_is_listed_and_deleted_like_any_other(
    cli: Cli, store: Store, sqlite_url: str
) -> None:
    token = cli.json("registration-tokens", "create", "--uses", "1")["initial_access_token"]
    server = app_for(store, sqlite_url, TESSERA_REGISTRATION="token").test_client()
    response = server.post(
        REGISTER,
        json={"client_name": "Claude Code", "redirect_uris": ["http://127.0.0.1/callback"], "scope": "api"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    listed = {c["client_id"]: c for c in cli.json("clients", "list")}
    assert listed[body["client_id"]]["name"] == "Claude Code"
    assert listed[body["client_id"]]["redirect_uris"] == ["http://127.0.0.1/callback"]

    cli.ok("clients", "delete", body["client_id"])
    assert body["client_id"] not in {c["client_id"] for c in cli.json("clients", "list")}
    management = server.get(
        body["registration_client_uri"].removeprefix(ISSUER),
        headers={"Authorization": f"Bearer {body['registration_access_token']}"},
    )
    assert management.status_code == 401 and management.get_json()["error"] == "invalid_token"


def test_tokens_purge_deletes_spent_and_expired_initial_access_tokens(cli: Cli, store: Store) -> None:
    store.registrations.create_initial(InitialAccessToken("a" * 64, None, 1, 0))  # expired long ago
    store.registrations.create_initial(InitialAccessToken("b" * 64, 0, None, 0))  # no use left
    live = cli.json("registration-tokens", "create", "--ttl", "600")["initial_access_token"]
    assert "Purged 2 row(s)." in cli.ok("tokens", "purge").stdout
    with store.engine.connect() as conn:
        assert [row.digest for row in conn.execute(select(initial_access_tokens))] == [digest(live)]


def test_tokens_purge_deletes_clients_registered_over_http_and_never_used(
    cli: Cli, store: Store, sqlite_url: str
) -> None:
    server = app_for(store, sqlite_url, TESSERA_REGISTRATION="open").test_client()
    body = server.post(REGISTER, json={"redirect_uris": ["https://app.example/cb"]}).get_json()
    assert "Purged 0 row(s)." in cli.ok("tokens", "purge").stdout  # registered just now: kept
    with store.engine.begin() as conn:  # registered two minutes ago
        conn.execute(update(registrations).values(created_at=registrations.c.created_at - 120))
    assert "Purged 0 row(s)." in cli.ok("tokens", "purge").stdout  # within the default day
    assert "Purged 1 row(s)." in cli.ok("tokens", "purge", TESSERA_REGISTRATION_UNUSED_TTL="60").stdout
    assert store.clients.get(body["client_id"]) is None
