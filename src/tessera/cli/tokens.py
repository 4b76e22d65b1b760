"""``tessera tokens``: revoking and purging issued tokens."""

import time

import click

from tessera.cli.base import (
    announce_revoked,
    fail,
    handled,
    load_settings,
    main,
    revoked_pairs,
    store_of,
    username_of,
)


@main.group()
def tokens() -> None:
    """Issued tokens."""


@tokens.command("revoke")
@click.option("--user", "username", help="Revoke every token of this user.")
@click.option("--client", "client_id", help="Revoke every token of this client.")
@handled
def tokens_revoke(username: str | None, client_id: str | None) -> None:
    """Revoke tokens of a user or a client."""
    if (username is None) == (client_id is None):
        fail("give exactly one of --user or --client")
    settings = load_settings()
    store = store_of(settings)
    tokens = store.tokens
    if username is not None:
        revoked = tokens.revoke_for_user(username_of(store, username))
    else:
        revoked = tokens.revoke_for_client(client_id or "")
    announce_revoked(settings, revoked)
    click.echo(revoked_pairs(revoked))


@tokens.command("purge")
@handled
def tokens_purge() -> None:
    """Delete expired and revoked rows that are no longer needed, ended or expired sign-in sessions, initial
    access tokens that expired or have no use left, and clients registered over HTTP that were never used."""
    settings = load_settings()
    store = store_of(settings)
    removed = store.tokens.purge()
    removed += store.sessions.purge(
        int(time.time()), idle_timeout=settings.session_idle_timeout, max_age=settings.session_max_age
    )
    removed += store.registrations.purge_initial(int(time.time()))
    removed += store.registrations.purge_unused(int(time.time()) - settings.registration_unused_ttl)
    click.echo(f"Purged {removed} row(s).")
