"""``tessera resources``: register, list and delete the protected resources tokens may be restricted to."""

from tessera.store import Store
from tests.test_cli import Cli


def test_create_list_and_delete(cli: Cli, store: Store) -> None:
    created = cli.json("resources", "create", "https://mcp.example/mcp", "--name", "Notes", "--scope", "api")
    assert created["uri"] == "https://mcp.example/mcp" and created["name"] == "Notes" and created["scope"] == "api"
    plain = cli.ok("resources", "create", "https://api.example").stdout
    assert plain == "Registered resource https://api.example/.\n"  # an empty path is written "/"
    listed = cli.json("resources", "list")
    assert [(r["uri"], r["name"], r["scope"]) for r in listed] == [
        ("https://api.example/", "https://api.example/", None),
        ("https://mcp.example/mcp", "Notes", "api"),
    ]
    assert cli.ok("resources", "list").stdout.splitlines()[0].startswith("https://api.example/ ")
    assert cli.ok("resources", "delete", "https://api.example").stdout == "Deleted resource https://api.example/.\n"
    assert [r["uri"] for r in cli.json("resources", "list")] == ["https://mcp.example/mcp"]


def test_bad_resources_are_refused_in_one_line(cli: Cli, store: Store) -> None:
    assert "must be an absolute URI" in cli.fails("resources", "create", "https://api.example/#top")
    assert "must be an absolute URI" in cli.fails("resources", "create", "api.example with spaces")
    assert "absolute http(s) URI" in cli.fails("resources", "create", "urn:example:api")
    assert "no '@' there" in cli.fails("resources", "create", "https://me@api.example/")
    assert "not declared" in cli.fails("resources", "create", "https://api.example/", "--scope", "nope")
    assert "printable" in cli.fails("resources", "create", "https://api.example/", "--name", " ")
    cli.ok("resources", "create", "https://api.example/")
    assert "already exists" in cli.fails("resources", "create", "https://api.example")
    assert "no resource" in cli.fails("resources", "delete", "https://other.example/")
    assert [r["uri"] for r in cli.json("resources", "list")] == ["https://api.example/"]


def test_production_needs_https_but_for_loopback(cli: Cli, store: Store) -> None:
    error = cli.fails("resources", "create", "http://api.example/", TESSERA_ENV="production")
    assert "https:// in production" in error
    cli.ok("resources", "create", "http://127.0.0.1:8001/", TESSERA_ENV="production")
