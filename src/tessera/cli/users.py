"""``tessera users``: people who sign in. The rules are :mod:`tessera.server.accounts`'s."""

import sys

import click

from tessera.cli.base import (
    announce_revoked,
    fail,
    handled,
    is_utf8,
    load_settings,
    main,
    print_json,
    shown,
    store_of,
    username_of,
)
from tessera.server.accounts import check_username, create_user, set_password


@main.group()
def users() -> None:
    """People who sign in."""


@users.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@handled
def users_create(username: str, password_stdin: bool) -> None:
    """Create a user; the password is prompted for unless --password-stdin is given."""
    check_username(username)  # before asking for a password
    try:  # stdin decodes strictly or with surrogates, by locale: refuse bytes that are not UTF-8 either way
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    except UnicodeDecodeError:
        fail("the password is not valid UTF-8")
    if not is_utf8(password):
        fail("the password is not valid UTF-8")
    user = create_user(store_of().users, username, password)
    normalised = f" (the normal form of {username!r})" if user.username != username else ""
    click.echo(f"Created user {user.username}{normalised}.")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def users_list(as_json: bool) -> None:
    """List users."""
    rows = store_of().users.all()
    if as_json:
        print_json([{"username": u.username, "disabled": u.disabled, "created_at": u.created_at} for u in rows])
        return
    for u in rows:
        click.echo(f"{shown(u.username)}{'  (disabled)' if u.disabled else ''}")


@users.command("disable")
@click.argument("username")
@handled
def users_disable(username: str) -> None:
    """Disable a user, end their sign-in sessions and revoke all of their tokens."""
    settings = load_settings()
    store = store_of(settings)
    name = username_of(store, username)
    revoked = store.users.disable(name)
    announce_revoked(settings, revoked)
    click.echo(f"Disabled {shown(name)}; signed them out and revoked {len(revoked)} token(s).")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@handled
def users_set_password(username: str, password_stdin: bool) -> None:
    """Give a user a new password; it is prompted for unless --password-stdin is given.

    Signs the user out everywhere: every sign-in session ends, and every token issued for them (access and
    refresh tokens alike) is revoked at once, so their apps ask them to sign in again."""
    settings = load_settings()
    store = store_of(settings)
    name = username_of(store, username)
    if store.users.by_name(name) is None:  # before asking for a password
        fail(f"no user {username!r}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    revoked = set_password(store.users, name, password)
    announce_revoked(settings, revoked)
    click.echo(f"Set the password of {shown(name)}; signed them out and revoked {len(revoked)} token(s).")


@users.command("rename")
@click.argument("username")
@click.argument("new_username")
@handled
def users_rename(username: str, new_username: str) -> None:
    """Give a user a new username; their password, tokens and consents stay."""
    new = check_username(new_username)
    store = store_of()
    name = username_of(store, username)
    store.users.rename(name, new)
    click.echo(f"Renamed {shown(name)} to {new}.")
