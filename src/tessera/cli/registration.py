"""``tessera registration-tokens``: initial access tokens, which ``TESSERA_REGISTRATION=token`` asks of whoever
registers a client over HTTP (RFC 7591 §3). The rules are :mod:`tessera.server.dynamic`'s."""

import time

import click

from tessera.cli.base import handled, load_settings, main, print_json, store_of


@main.group("registration-tokens")
def registration_tokens() -> None:
    """Initial access tokens for client registration over HTTP (TESSERA_REGISTRATION=token)."""


@registration_tokens.command("create")
@click.option("--uses", type=int, help="How many clients it may register.  [default: any number]")
@click.option("--ttl", type=int, help="Seconds it works for.  [default: until deleted]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def registration_tokens_create(uses: int | None, ttl: int | None, as_json: bool) -> None:
    """Create an initial access token; it is shown once, and only its digest is stored."""
    settings = load_settings()
    store = store_of(settings)
    from tessera.server.dynamic import issue_initial_access_token

    token, record = issue_initial_access_token(store.registrations, uses=uses, ttl=ttl, now=int(time.time()))
    if as_json:
        print_json({"initial_access_token": token, "uses": record.uses_left, "expires_at": record.expires_at})
        return
    click.echo(f"initial_access_token: {token}")
    uses_text = "any number of clients" if uses is None else f"{uses} client{'s' if uses != 1 else ''}"
    until = "" if ttl is None else f", for {ttl} seconds"
    click.echo(f"It registers {uses_text}{until}. Store it now: it is not shown again.")
