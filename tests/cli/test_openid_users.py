"""``tessera users`` and OpenID Connect: the subject each user gets, and their e-mail address and name."""

import re

import pytest

from tessera.store import Store
from tests.test_cli import Cli

_SUBJECT = re.compile(r"[A-Za-z0-9_-]{22}")


def test_a_user_deleted_and_another_created_never_share_a_subject(cli: Cli, store: Store) -> None:
    cli.ok("users", "create", "alice", "--password-stdin", input="correct horse battery\n")
    first = store.users.by_name("alice")
    cli.ok("users", "delete", "alice", "--yes")
    cli.ok("users", "create", "bob", "--password-stdin", input="correct horse battery\n")
    second = store.users.by_name("bob")
    assert first is not None and second is not None
    assert first.subject != second.subject  # even where SQLite hands bob alice's old row id


def test_users_create_and_update_set_email_and_name(cli: Cli, store: Store) -> None:
    cli.ok(
        "users", "create", "alice", "--email", "alice@example.com", "--name", "Alice Liddell",
        "--password-stdin", input="correct horse battery\n",
    )  # fmt: skip
    (listed,) = cli.json("users", "list")
    assert (listed["email"], listed["name"]) == ("alice@example.com", "Alice Liddell")
    assert _SUBJECT.fullmatch(listed["subject"])
    out = cli.ok("users", "update", "ALICE", "--name", "Alice P. Liddell").stdout
    assert "Alice P. Liddell" in out
    cli.ok("users", "update", "alice", "--email", "")
    (listed,) = cli.json("users", "list")
    assert (listed["email"], listed["name"]) == (None, "Alice P. Liddell")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--email", "not-an-address"), "e-mail address must look like"),
        (("--email", "a b@example.com"), "e-mail address must look like"),
        (("--email", "alice@localhost"), "e-mail address must look like"),
        (("--name", " Alice"), "name must be 1 to 200"),
        (("--name", "Al\u202eice"), "U+202E"),
    ],
)
def test_a_bad_email_or_name_is_one_line_and_creates_nothing(
    cli: Cli, store: Store, args: tuple[str, ...], words: str
) -> None:
    error = cli.fails("users", "create", "alice", *args, "--password-stdin", input="correct horse battery\n")
    assert words in error
    assert store.users.by_name("alice") is None
    cli.ok("users", "create", "alice", "--password-stdin", input="correct horse battery\n")
    assert words in cli.fails("users", "update", "alice", *args)


def test_users_update_needs_something_to_change_and_a_known_user(cli: Cli, store: Store) -> None:
    assert "no user" in cli.fails("users", "update", "nobody", "--name", "No One")
    cli.ok("users", "create", "alice", "--password-stdin", input="correct horse battery\n")
    assert "nothing to update" in cli.fails("users", "update", "alice")
