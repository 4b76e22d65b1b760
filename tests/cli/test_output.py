"""What the commands say: `db upgrade` what it did to the schema, the revoking commands how many token pairs
and, without Redis, that resource-server caches were not told; the lists, and the help of `clients create`."""

import re
from typing import Any

import pytest
from sqlalchemy import text

from tessera.cli import main
from tessera.store import Store, make_engine, upgrade
from tessera.store.migrate import head
from tests.conftest import RegisteredClient, unused_port
from tests.test_cli import Cli, _insert_token

HEAD = head()


# db upgrade


def test_db_upgrade_says_it_created_the_schema_then_that_it_is_up_to_date(cli: Cli) -> None:
    created = cli.ok("db", "upgrade").stdout.splitlines()
    assert created[0] == f"Created the schema (revision {HEAD})."
    assert (
        re.fullmatch(r"Made the ID-token signing keys rs256-[\w-]+, es256-[\w-]+\.", created[1]) and len(created) == 2
    )
    assert cli.ok("db", "upgrade").stdout == f"The schema is up to date (revision {HEAD}).\n"


def test_db_upgrade_says_from_which_revision_it_upgraded(cli: Cli, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        assert upgrade(engine, "0003_sessions").after == "0003_sessions"
    finally:
        engine.dispose()
    assert cli.ok("db", "upgrade").stdout.startswith(f"Upgraded the schema from 0003_sessions to {HEAD}.\n")
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
    finally:
        engine.dispose()


# revoking: token pairs, and the caches that were not told


@pytest.mark.parametrize(("count", "said"), [(1, "1 token pair"), (3, "3 token pairs")])
def test_tokens_revoke_counts_pairs_of_access_and_refresh_tokens(
    cli: Cli, store: Store, web_client: RegisteredClient, user: Any, count: int, said: str
) -> None:
    for _ in range(count):
        _insert_token(store, web_client.client_id, user.id, refresh=True)
    assert cli.ok("tokens", "revoke", "--user", "alice").stdout == f"Revoked {said} (access and refresh tokens).\n"
    assert cli.ok("tokens", "revoke", "--client", web_client.client_id).stdout == "Nothing to revoke.\n"


def test_every_revoking_command_says_the_same(cli: Cli, store: Store, web_client: RegisteredClient, user: Any) -> None:
    pair = "Revoked 1 token pair (access and refresh tokens)."
    bob = store.users.create("bob", "not-a-real-hash")
    carol = store.users.create("carol", "not-a-real-hash")
    for owner in (user.id, bob.id, carol.id):
        _insert_token(store, web_client.client_id, owner, refresh=True)
    password = "violet kettle drum\n"
    assert cli.ok("users", "set-password", "alice", "--password-stdin", input=password).stdout == (
        f"Set the password of alice and signed them out. {pair}\n"
    )
    assert cli.ok("users", "disable", "bob").stdout == f"Disabled bob and signed them out. {pair}\n"
    assert cli.ok("users", "delete", "carol", "--yes").stdout == f"Deleted carol and signed them out. {pair}\n"
    assert cli.ok("clients", "delete", web_client.client_id).stdout == (
        f"Deleted {web_client.client_id}. Nothing to revoke.\n"
    )


NO_REDIS = (
    "Warning: TESSERA_REDIS_URL is not set, so resource servers that cache tokens accept these until their cache "
    "entry expires (at most their ttl, e.g. 60 s); set it here and run a RevocationSubscriber to end them at once.\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ("tokens", "revoke", "--user", "alice"),
        ("tokens", "revoke", "--client", ""),
        ("users", "disable", "alice"),
        ("users", "delete", "alice", "--yes"),
        ("users", "set-password", "alice", "--password-stdin"),
        ("clients", "delete", ""),
    ],
)
def test_revoking_without_redis_warns_in_one_line_that_caches_were_not_told(
    cli: Cli, store: Store, web_client: RegisteredClient, user: Any, command: tuple[str, ...]
) -> None:
    args = [web_client.client_id if a == "" else a for a in command]
    _insert_token(store, web_client.client_id, user.id)
    result = cli.ok(*args, input="violet kettle drum\n")
    assert result.stderr == NO_REDIS
    assert "Revoked 1 token pair" in result.stdout


def test_nothing_revoked_no_warning(cli: Cli, store: Store, web_client: RegisteredClient, user: Any) -> None:
    for args in (["tokens", "revoke", "--user", "alice"], ["users", "disable", "alice"]):
        result = cli.ok(*args)
        assert "Nothing to revoke." in result.stdout and result.stderr == ""


def test_with_redis_unreachable_the_warning_is_the_one_about_redis(
    cli: Cli, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    _insert_token(store, web_client.client_id, user.id)
    result = cli.ok("users", "disable", "alice", TESSERA_REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0")
    assert result.stderr.startswith("Warning: could not publish on Redis") and result.stderr.count("\n") == 1
    assert "TESSERA_REDIS_URL is not set" not in result.stderr


# lists and help


def test_clients_list_says_which_clients_may_introspect(cli: Cli, store: Store) -> None:
    api = cli.json("clients", "create", "--name", "Billing API", "--introspect")
    job = cli.json("clients", "create", "--name", "Batch job")
    lines = cli.ok("clients", "list").stdout.splitlines()
    assert lines == [
        f"{api['client_id']}  Billing API  [confidential; client_credentials; scope: api; may introspect]",
        f"{job['client_id']}  Batch job  [confidential; client_credentials; scope: api]",
    ]


def test_clients_create_help_says_what_the_grant_types_default_to(cli: Cli) -> None:
    text = " ".join(cli.ok("clients", "create", "--help").stdout.split())
    assert "Default: authorization_code and refresh_token with a --redirect-uri, else client_credentials." in text


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def test_every_command_that_lists_has_json() -> None:
    listing = [path for path, _ in _commands(main) if path[-1] == "list"]
    expected = {("audit", "list"), ("clients", "list"), ("keys", "list"), ("resources", "list"), ("scopes", "list")}
    assert expected | {("users", "list")} <= set(listing)
    for path, command in _commands(main):
        if path[-1] == "list":
            assert "as_json" in {p.name for p in command.params}, path
