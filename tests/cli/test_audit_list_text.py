"""``tessera audit list`` without ``--json``: one line per event, the newest first, each field that is set as
``name=value`` and control characters shown escaped, never sent to the terminal."""

from tessera.store import Store, make_engine
from tests.test_cli import Cli

PASSWORD = "correct horse battery\ncorrect horse battery\n"


def test_events_are_listed_one_a_line_newest_first(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    created = cli.json("clients", "create", "--name", "Notes", "--redirect-uri", "https://app.example/cb")
    cli.ok("users", "create", "alice", input=PASSWORD)
    lines = cli.ok("audit", "list").stdout.splitlines()
    assert len(lines) == 2
    newest, oldest = lines
    assert "  user.created  success  " in newest and "user=alice" in newest and "via=cli" in newest
    assert "client_id" not in newest  # fields that are not set are left out
    assert "  client.created  success  " in oldest
    assert f"client_id={created['client_id']}" in oldest and "name=Notes" in oldest
    assert oldest.startswith("20") and "T" in oldest.split()[0]  # an ISO 8601 time first

    only = cli.ok("audit", "list", "--user", "alice", "--limit", "1").stdout.splitlines()
    assert only == [newest]


def test_a_control_character_in_an_old_row_is_shown_escaped(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("clients", "create", "--name", "Notes", "--redirect-uri", "https://app.example/cb")
    # a database from before names were checked may hold anything; the terminal must not receive it raw
    store = Store(make_engine(str(cli.env["TESSERA_DATABASE_URL"])))
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE audit_events SET username = 'eve\x1b[2J'")
    finally:
        store.close()
    out = cli.ok("audit", "list").stdout
    assert "\x1b" not in out and "user=eve\\x1b[2J" in out
