"""``tessera users``: people who sign in. The rules are :mod:`tessera.server.accounts`'s.

A password is checked against the policy (:func:`~tessera.server.accounts.check_password`, with the operator's
``TESSERA_PASSWORD_BLOCKLIST``), whose list is read before the password is asked for, so that an unreadable list
is said before anyone types anything.
"""

import sys

import click

from tessera.cli.base import (
    announce_revoked,
    audit,
    fail,
    handled,
    is_utf8,
    load_settings,
    main,
    print_json,
    revoked_pairs,
    shown,
    store_of,
    subject_of,
    username_of,
)
from tessera.errors import AlreadyExists
from tessera.server.accounts import (
    PasswordPolicy,
    check_email,
    check_name,
    check_username,
    create_user,
    set_password,
    update_profile,
)
from tessera.server.audit import Event


def _read_password(password_stdin: bool, prompt: str) -> str:
    try:  # stdin decodes strictly or with surrogates, by locale: refuse bytes that are not UTF-8 either way
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    except UnicodeDecodeError:
        fail("the password is not valid UTF-8")
    if not is_utf8(password):
        fail("the password is not valid UTF-8")
    return password


@main.group()
def users() -> None:
    """People who sign in."""


@users.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@click.option("--email", help="Their e-mail address (the OpenID Connect 'email' claim).")
@click.option("--name", "full_name", help="Their full name (the OpenID Connect 'name' claim).")
@handled
def users_create(username: str, password_stdin: bool, email: str | None, full_name: str | None) -> None:
    """Create a user; the password is prompted for unless --password-stdin is given.

    A password has 8 to 1024 characters and is not a common or obvious one (see the README)."""
    settings = load_settings()
    name = check_username(username)  # all of this before asking for a password
    if email is not None:
        check_email(email)
    if full_name is not None:
        check_name(full_name)
    store = store_of(settings)
    if store.users.by_name(name) is not None:
        raise AlreadyExists(f"user {name!r} already exists")
    policy = PasswordPolicy.from_file(settings.password_blocklist)
    password = _read_password(password_stdin, "Password")
    user = create_user(store.users, username, password, policy=policy, email=email, name=full_name)
    audit(store, Event.USER_CREATED, settings=settings, user=user.username)
    normalised = f" (the normal form of {username!r})" if user.username != username else ""
    click.echo(f"Created user {user.username}{normalised}.")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def users_list(as_json: bool) -> None:
    """List users."""
    rows = store_of().users.all()
    if as_json:
        print_json(
            [
                {
                    "username": u.username,
                    "subject": u.subject,
                    "email": u.email,
                    "name": u.name,
                    "disabled": u.disabled,
                    "created_at": u.created_at,
                }
                for u in rows
            ]
        )
        return
    for u in rows:
        click.echo(f"{shown(u.username)}{'  (disabled)' if u.disabled else ''}")


@users.command("update")
@click.argument("username")
@click.option("--email", help="A new e-mail address; an empty one removes it.")
@click.option("--name", "full_name", help="A new full name; an empty one removes it.")
@handled
def users_update(username: str, email: str | None, full_name: str | None) -> None:
    """Change a user's e-mail address or name (what OpenID Connect clients see with 'email' and 'profile')."""
    store = store_of()
    name = username_of(store, username)
    user = update_profile(store.users, name, email=email, name=full_name)
    click.echo(f"Updated {shown(name)}: e-mail {shown(user.email or '(none)')}, name {shown(user.name or '(none)')}.")


@users.command("disable")
@click.argument("username")
@handled
def users_disable(username: str) -> None:
    """Disable a user, end their sign-in sessions and revoke all of their tokens."""
    settings = load_settings()
    store = store_of(settings)
    name = username_of(store, username)
    subject = subject_of(store, name)
    revoked = store.users.disable(name)
    audit(store, Event.USER_DISABLED, settings=settings, user=name, detail={"revoked": len(revoked)})
    announce_revoked(settings, revoked, subject=subject)
    click.echo(f"Disabled {shown(name)} and signed them out. {revoked_pairs(revoked)}")


@users.command("enable")
@click.argument("username")
@handled
def users_enable(username: str) -> None:
    """Let a disabled user sign in again.

    The sessions and tokens that disabling ended stay ended: the user signs in anew."""
    store = store_of()
    name = username_of(store, username)
    store.users.enable(name)
    audit(store, Event.USER_ENABLED, user=name)
    click.echo(f"Enabled {shown(name)}; they can sign in again.")


@users.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handled
def users_delete(username: str, yes: bool) -> None:
    """Delete a user with their sessions, tokens, codes and consents; asks first unless --yes.

    Everything goes in one transaction, and the revoked tokens are announced like those of `users disable`.
    This cannot be undone: to keep someone out for now, use `users disable`."""
    settings = load_settings()
    store = store_of(settings)
    name = username_of(store, username)
    if store.users.by_name(name) is None:  # before asking
        fail(f"no user {username!r}")
    if not yes:
        question = f"Delete the user {shown(name)} with their sessions, tokens and consents? This cannot be undone"
        try:
            confirmed = click.confirm(question, default=False)
        except click.Abort:  # end of input, or Ctrl-C
            confirmed = False
        if not confirmed:
            fail(f"not confirmed: {shown(name)} was not deleted")
    subject = subject_of(store, name)
    revoked = store.users.delete(name)
    audit(store, Event.USER_DELETED, settings=settings, user=name, detail={"revoked": len(revoked)})
    announce_revoked(settings, revoked, subject=subject)
    click.echo(f"Deleted {shown(name)} and signed them out. {revoked_pairs(revoked)}")


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
    policy = PasswordPolicy.from_file(settings.password_blocklist)
    password = _read_password(password_stdin, "New password")
    subject = subject_of(store, name)
    revoked = set_password(store.users, name, password, policy=policy)
    audit(store, Event.USER_PASSWORD_CHANGED, settings=settings, user=name, detail={"revoked": len(revoked)})
    announce_revoked(settings, revoked, subject=subject)
    click.echo(f"Set the password of {shown(name)} and signed them out. {revoked_pairs(revoked)}")


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
    audit(store, Event.USER_UPDATED, user=new, detail={"renamed_from": name})
    click.echo(f"Renamed {shown(name)} to {new}.")
