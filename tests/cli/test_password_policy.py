"""The password policy at the command line: ``users create`` and ``users set-password`` refuse in one line that
says why and never shows the password; the operator's own list through ``TESSERA_PASSWORD_BLOCKLIST``."""

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.passwords import verify_password
from tessera.store import Store
from tessera.tokens import digest
from tests.conftest import RegisteredClient, login
from tests.test_cli import Cli, _insert_token, _signed_in_as


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Mall0ry", "the password must be at least 8 characters long"),
        ("x" * 1025, "the password must be at most 1024 characters long"),
        ("Mallory-2024", "the password must not contain the username"),
        ("tessera-admin", "the password must not contain the name of the service ('tessera')"),
        ("zzzzzzzzzz", "the password must not be a few characters repeated (like aaaaaaaa or abababab)"),
        ("98765432", "the password must not be an obvious sequence (like 12345678, abcdefgh or qwertyui)"),
        ("Sunshine2024!", "the password is one of the most common passwords (give or take digits or symbols)"),
    ],
)
def test_users_create_refuses_a_weak_password_in_one_line_without_showing_it(
    cli: Cli, store: Store, password: str, why: str
) -> None:
    result = cli("users", "create", "mallory", "--password-stdin", input=password + "\n")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"Error: {why}\n"
    assert password not in result.stderr
    assert store.users.all() == []


def test_the_prompt_refuses_after_both_entries_and_creates_nothing(cli: Cli, store: Store) -> None:
    result = cli("users", "create", "carol", input="password1\npassword1\n")
    assert result.exit_code == 1 and "Repeat" in result.stdout
    assert result.stderr == "Error: the password is one of the most common passwords (give or take digits or symbols)\n"
    assert store.users.all() == []


def test_the_demo_password_is_refused_here(cli: Cli, store: Store) -> None:
    """Only ``tessera demo`` makes demo/demo: every command that sets a password applies the policy."""
    error = cli.fails("users", "create", "demo", "--password-stdin", input="demo\n")
    assert error == "Error: the password must be at least 8 characters long"
    assert store.users.all() == []


def test_users_set_password_refuses_a_weak_password_and_changes_nothing(
    cli: Cli, client: FlaskClient, store: Store, web_client: RegisteredClient, user: Any
) -> None:
    login(client)
    access, _, _ = _insert_token(store, web_client.client_id, user.id)
    for password, why in (("alice-in-chains", "the username"), ("qwertyuiop", "an obvious sequence")):
        error = cli.fails("users", "set-password", "ALICE", "--password-stdin", input=password + "\n")
        assert why in error and password not in error
    alice = store.users.by_name("alice")
    assert alice is not None and alice.password_hash == user.password_hash
    assert _signed_in_as(client) == "alice"
    assert store.tokens.active(digest(access)) is not None


def test_the_operators_blocklist_is_refused_in_any_case(cli: Cli, store: Store, user: Any, tmp_path: Path) -> None:
    blocklist = tmp_path / "refused.txt"
    blocklist.write_text("Company Name 2026\nour street address\n", encoding="utf-8")
    listed = Cli({**cli.env, "TESSERA_PASSWORD_BLOCKLIST": str(blocklist)})
    refused = "Error: the password is on this server's list of refused passwords (TESSERA_PASSWORD_BLOCKLIST)"
    assert listed.fails("users", "create", "bob", "--password-stdin", input="company name 2026\n") == refused
    assert listed.fails("users", "set-password", "alice", "--password-stdin", input="OUR STREET ADDRESS\n") == refused
    assert [u.username for u in store.users.all()] == ["alice"]
    # without the setting the same passwords pass: they are the operator's rule, not a built-in one
    cli.ok("users", "create", "bob", "--password-stdin", input="company name 2026\n")
    bob = store.users.by_name("bob")
    assert bob is not None and verify_password(bob.password_hash, "company name 2026")


def test_an_unreadable_blocklist_is_one_line_before_the_password_is_asked(
    cli: Cli, store: Store, user: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-list.txt"
    for args in (["users", "create", "bob"], ["users", "set-password", "alice"]):
        result = cli(*args, input="violet kettle drum\nviolet kettle drum\n", TESSERA_PASSWORD_BLOCKLIST=str(missing))
        assert result.exit_code == 1
        assert "password" not in result.stdout.lower()  # nobody was asked to type one
        assert result.stderr == f"Error: TESSERA_PASSWORD_BLOCKLIST: cannot read {missing}: No such file or directory\n"
    error = cli.fails("users", "create", "bob", "--password-stdin", TESSERA_PASSWORD_BLOCKLIST=str(tmp_path))
    assert error.startswith(f"Error: TESSERA_PASSWORD_BLOCKLIST: cannot read {tmp_path}: ")
    assert [u.username for u in store.users.all()] == ["alice"]
