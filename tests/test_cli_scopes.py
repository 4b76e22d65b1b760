"""``tessera scopes``, and the declared scopes as ``tessera clients`` sees them, in-process with click's runner
against a temporary SQLite database."""

import os
from pathlib import Path

import pytest

from tessera.config import Settings
from tessera.passwords import hash_password
from tessera.store import ScopeRecord, Store
from tests.conftest import ISSUER, REDIRECT_URI, register_client
from tests.test_cli import Cli


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.chdir(tmp_path)  # no stray .env
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("TESSERA_") and not name.startswith("TESSERA_TEST_")
    }
    return Cli({**unset, "TESSERA_DATABASE_URL": settings.database_url, "TESSERA_ISSUER": ISSUER})


@pytest.fixture(autouse=True)
def _only_api_declared(request: pytest.FixtureRequest) -> None:
    """These tests are about the scopes an operator declares: they start from a database that declares ``api``
    alone, without the OpenID Connect scopes (``openid``, ``profile``, ``email``) every new database has."""
    if "store" in request.fixturenames:
        store: Store = request.getfixturevalue("store")
        for name in ("openid", "profile", "email"):
            store.scopes.delete(name, lambda held: None)


def test_create_then_list_and_json(cli: Cli, store: Store) -> None:
    assert cli.ok("scopes", "create", "billing:read", "--description", " Read your invoices ").stdout == (
        "Declared scope billing:read.\n"
    )
    assert cli.ok("scopes", "create", "profile", "--description", "See your name", "--default").stdout == (
        "Declared scope profile (granted by default to clients created without --scope).\n"
    )
    store.scopes.create(ScopeRecord("legacy", "", False, 0))  # as the migration declares what clients held
    assert cli.ok("scopes", "list").stdout == (
        "api           (default)  Use the API on your behalf\n"
        "billing:read             Read your invoices\n"
        "legacy                   (no description)\n"
        "profile       (default)  See your name\n"
    )
    listed = cli.json("scopes", "list")
    assert [s["name"] for s in listed] == ["api", "billing:read", "legacy", "profile"]
    assert listed[1] == {
        "name": "billing:read",
        "description": "Read your invoices",
        "default": False,
        "created_at": store.scopes.get("billing:read").created_at,
    }
    assert listed[3]["default"] is True and listed[2]["description"] == ""


def test_list_of_nothing(cli: Cli, store: Store) -> None:
    cli.ok("scopes", "delete", "api")
    assert cli.ok("scopes", "list").stdout == ""
    assert cli.json("scopes", "list") == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["two words", "--description", "X"], "RFC 6749 §3.3", id="space-in-name"),
        pytest.param(['"quoted"', "--description", "X"], "RFC 6749 §3.3", id="quote-in-name"),
        pytest.param(["x" * 129, "--description", "X"], "1 to 128", id="long-name"),
        pytest.param(["read", "--description", ""], "1 to 200 printable", id="empty-description"),
        pytest.param(["read", "--description", "a\x1b[2Jb"], "printable", id="escape-in-description"),
        pytest.param(["read", "--description", "x" * 201], "1 to 200", id="long-description"),
        pytest.param(["api", "--description", "Again"], "scope 'api' already exists", id="taken"),
    ],
)
def test_create_refuses_in_one_line_and_declares_nothing(cli: Cli, store: Store, args: list[str], words: str) -> None:
    assert words in cli.fails("scopes", "create", *args)
    assert store.scopes.all() == [
        ScopeRecord("api", "Use the API on your behalf", True, store.scopes.all()[0].created_at)
    ]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["read"], id="no-description"),
        pytest.param([], id="no-name"),
        pytest.param(["read", "--description", "X", "--bogus"], id="unknown-option"),
    ],
)
def test_create_usage_errors(cli: Cli, store: Store, args: list[str]) -> None:
    cli.fails("scopes", "create", *args, usage=True)
    assert store.scopes.names() == ["api"]


def test_update_changes_what_is_given(cli: Cli, store: Store) -> None:
    assert cli.ok("scopes", "update", "api", "--description", "Call the API as you").stdout == "Updated scope api.\n"
    assert store.scopes.get("api").description == "Call the API as you" and store.scopes.get("api").default
    cli.ok("scopes", "update", "api", "--no-default")
    assert store.scopes.get("api").default is False
    assert store.scopes.get("api").description == "Call the API as you"
    cli.ok("scopes", "update", "api", "--default")
    assert store.scopes.get("api").default is True


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["api"], "nothing to change", id="nothing"),
        pytest.param(["nope", "--default"], "no scope 'nope'", id="unknown"),
        pytest.param(["api", "--description", "two\nlines"], "printable", id="bad-description"),
    ],
)
def test_update_refuses_in_one_line_and_changes_nothing(cli: Cli, store: Store, args: list[str], words: str) -> None:
    before = store.scopes.all()
    assert words in cli.fails("scopes", "update", *args)
    assert store.scopes.all() == before


def test_delete_a_scope_no_client_holds(cli: Cli, store: Store) -> None:
    cli.ok("scopes", "create", "read", "--description", "Read things")
    assert cli.ok("scopes", "delete", "read").stdout == "Deleted scope read.\n"
    assert store.scopes.names() == ["api"]
    assert cli.fails("scopes", "delete", "read") == "Error: no scope 'read'"


def test_delete_is_refused_while_clients_hold_it_and_forced_removes_it_from_them(cli: Cli, store: Store) -> None:
    cli.ok("scopes", "create", "read", "--description", "Read things")
    holders = [cli.json("clients", "create", "--name", f"App {i}", "--scope", "api read") for i in range(3)]
    other = cli.json("clients", "create", "--name", "Other")
    alice = store.users.create("alice", hash_password("pw"))
    store.consents.save(alice.id, holders[0]["client_id"], ["api", "read"])
    assert cli.fails("scopes", "delete", "read") == (
        "Error: scope 'read' is held by 3 clients: change their scope first "
        "(tessera clients update CLIENT_ID --scope ...), or delete it with --force"
    )
    assert store.scopes.names() == ["api", "read"]
    assert [c.scope for c in store.clients.all()].count("api read") == 3
    assert cli.ok("scopes", "delete", "read", "--force").stdout == "Deleted scope read; removed it from 3 client(s).\n"
    assert {c.client_id: c.scope for c in store.clients.all()} == {
        **{h["client_id"]: "api" for h in holders},
        other["client_id"]: "api",
    }
    assert store.consents.get(alice.id, holders[0]["client_id"]) == "api"
    assert store.scopes.names() == ["api"]


def test_forced_delete_is_refused_when_it_would_leave_a_client_without_a_scope(cli: Cli, store: Store) -> None:
    cli.ok("scopes", "create", "read", "--description", "Read things")
    alone = cli.json("clients", "create", "--name", "Reader", "--scope", "read")
    shared = cli.json("clients", "create", "--name", "Both", "--scope", "read api")
    error = cli.fails("scopes", "delete", "read", "--force")
    assert error == (
        f"Error: scope 'read' is the only scope of 1 client ({alone['client_id']}): give it another scope first, "
        "or delete it"
    )
    assert store.clients.get(shared["client_id"]).scope == "read api" and store.scopes.names() == ["api", "read"]
    cli.ok("clients", "update", alone["client_id"], "--scope", "api")
    cli.ok("scopes", "delete", "read", "--force")
    assert store.clients.get(shared["client_id"]).scope == "api"


def test_clients_get_the_default_scopes_and_only_declared_ones(cli: Cli, store: Store) -> None:
    cli.ok("scopes", "create", "profile", "--description", "See your name", "--default")
    assert cli.json("clients", "create", "--name", "App")["scope"] == "api profile"
    error = cli.fails("clients", "create", "--name", "App", "--scope", "api billing:read")
    assert error == (
        "Error: scope 'billing:read' is not declared on this server: declare it first (tessera scopes create)"
    )
    web = cli.json("clients", "create", "--name", "Web", "--redirect-uri", REDIRECT_URI, "--scope", "profile")
    assert "billing:read" in cli.fails("clients", "update", web["client_id"], "--scope", "billing:read")
    assert store.clients.get(web["client_id"]).scope == "profile"
    cli.ok("scopes", "update", "api", "--no-default")
    cli.ok("scopes", "update", "profile", "--no-default")
    assert "no declared scope is granted by default" in cli.fails("clients", "create", "--name", "App")
    assert len(store.clients.all()) == 2


def test_a_client_holding_a_scope_declared_later_keeps_working(cli: Cli, store: Store) -> None:
    """A scope created with the CLI is one clients may be given at once, by the next command."""
    registered = register_client(store, scope="api")
    cli.ok("scopes", "create", "billing:read", "--description", "Read your invoices")
    assert cli.json("clients", "update", registered.client_id, "--scope", "api billing:read")["scope"] == (
        "api billing:read"
    )
    assert cli.fails("scopes", "delete", "billing:read") == (
        "Error: scope 'billing:read' is held by 1 client: change its scope first "
        "(tessera clients update CLIENT_ID --scope ...), or delete it with --force"
    )
