"""``tessera keys list`` and ``tessera keys rotate``, and the first keys ``tessera db upgrade`` makes."""

from tessera.store import Store
from tests.test_cli import Cli


def test_keys_list_and_rotate(cli: Cli, store: Store) -> None:
    assert "No signing keys yet" in cli.ok("keys", "list").stdout
    first = cli.json("keys", "rotate")
    assert first["alg"] == "RS256" and first["state"] == "active" and first["published"] is True
    es = cli.json("keys", "rotate", "--alg", "ES256")
    second = cli.json("keys", "rotate")
    listed = {row["kid"]: row for row in cli.json("keys", "list")}
    assert listed[first["kid"]]["state"] == "retired" and listed[first["kid"]]["published"] is True
    assert listed[second["kid"]]["state"] == "active" and listed[es["kid"]]["state"] == "active"
    assert set(listed[first["kid"]]) == {"kid", "alg", "state", "created", "retired", "published"}
    assert "Error:" in cli.fails("keys", "rotate", "--alg", "HS256", usage=True)
    text_out = cli.ok("keys", "list").stdout
    assert first["kid"] in text_out and "retired" in text_out


def test_db_upgrade_makes_the_first_keys_once(cli: Cli, sqlite_url: str) -> None:
    out = cli.ok("db", "upgrade").stdout
    assert "Made the ID-token signing keys" in out
    assert len(cli.json("keys", "list")) == 2
    assert "Made" not in cli.ok("db", "upgrade").stdout
