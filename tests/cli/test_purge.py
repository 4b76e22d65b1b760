"""``tessera tokens purge``: what it prints (rows per table, then the total), its limits, and on PostgreSQL that it
does nothing while another purge holds the lock."""

import pytest
from sqlalchemy import text

from tessera.store import Store
from tessera.store.purge import PURGE_LOCK_KEY
from tessera.tokens import digest
from tests.conftest import RegisteredClient, open_store, register_client, reset_postgres
from tests.test_cli import Cli, _clean_environ, _insert_token

TABLES = (
    "tokens",
    "authorization codes",
    "device authorizations",
    "sessions",
    "initial access tokens",
    "unused registrations",
)


def test_it_prints_the_rows_deleted_per_table_then_the_total(
    cli: Cli, store: Store, web_client: RegisteredClient
) -> None:
    for _ in range(25):
        _insert_token(store, web_client.client_id, expires_in=-5)
    live, _, _ = _insert_token(store, web_client.client_id)

    out = cli.ok("tokens", "purge", "--batch-size", "10", "--pause", "0.01").stdout

    assert out.splitlines() == [f"{name}: {25 if name == 'tokens' else 0}" for name in TABLES] + ["Purged 25 row(s)."]
    assert cli.ok("tokens", "purge").stdout.splitlines() == [f"{name}: 0" for name in TABLES] + ["Purged 0 row(s)."]
    assert store.tokens.active(digest(live)) is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "many"], "--batch-size"),
        (["--max-seconds", "0"], "--max-seconds"),
        (["--pause", "11"], "--pause"),
    ],
)
def test_bad_limits_are_one_usage_error(cli: Cli, args: list[str], message: str) -> None:
    assert message in cli.fails("tokens", "purge", *args, usage=True)


@pytest.mark.postgres
def test_while_another_purge_runs_it_does_nothing_and_says_so(postgres_url: str) -> None:
    reset_postgres(postgres_url)
    pg = Cli({**_clean_environ(), "TESSERA_DATABASE_URL": postgres_url})
    with open_store(postgres_url) as store:
        client_id = register_client(store).client_id
        _insert_token(store, client_id, expires_in=-5)
        with store.engine.connect() as conn:  # another node's purge, mid-way
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PURGE_LOCK_KEY}).scalar_one()
            assert pg.ok("tokens", "purge").stdout == "Another purge is running on this database: nothing done.\n"
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PURGE_LOCK_KEY})
        assert pg.ok("tokens", "purge").stdout.endswith("\nPurged 1 row(s).\n")
