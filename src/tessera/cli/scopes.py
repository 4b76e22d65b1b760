"""``tessera scopes``: what clients may be allowed, as the operator declares it. The rules are
:mod:`tessera.server.scopes`'s.

Servers see a change at once on the consent page (read per page) and within 5 seconds in the metadata and in
what clients may get (each process re-reads them at most that often)."""

import click

from tessera.cli.base import handled, main, print_json, shown, store_of
from tessera.server.scopes import create_scope, delete_scope, describe, update_scope


@main.group()
def scopes() -> None:
    """Scopes clients may be registered for, and what the consent page says of them."""


@scopes.command("create")
@click.argument("name")
@click.option("--description", required=True, help="What the consent page says of it, e.g. 'Read your invoices'.")
@click.option("--default", "default", is_flag=True, help="Give it to clients created without --scope.")
@handled
def scopes_create(name: str, description: str, default: bool) -> None:
    """Declare a scope."""
    record = create_scope(store_of().scopes, name, description, default=default)
    by_default = " (granted by default to clients created without --scope)" if record.default else ""
    click.echo(f"Declared scope {record.name}{by_default}.")


@scopes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def scopes_list(as_json: bool) -> None:
    """List the declared scopes."""
    rows = store_of().scopes.all()
    if as_json:
        print_json([describe(s) for s in rows])
        return
    width = max((len(shown(s.name)) for s in rows), default=0)
    for s in rows:
        marker = "(default)" if s.default else ""
        click.echo(f"{shown(s.name):<{width}}  {marker:<9}  {shown(s.description) or '(no description)'}")


@scopes.command("update")
@click.argument("name")
@click.option("--description", help="What the consent page says of it.")
@click.option("--default/--no-default", default=None, help="Whether clients created without --scope get it.")
@handled
def scopes_update(name: str, description: str | None, default: bool | None) -> None:
    """Change a scope's description or whether it is granted by default (its name stays)."""
    record = update_scope(store_of().scopes, name, description=description, default=default)
    click.echo(f"Updated scope {record.name}.")


@scopes.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also remove it from the clients that hold it.")
@handled
def scopes_delete(name: str, force: bool) -> None:
    """Delete a scope no client holds (or, with --force, remove it from them too, in one transaction).

    Remembered consents forget it. Tokens already issued keep it until they expire."""
    changed = delete_scope(store_of().scopes, name, force=force)
    removed = f"; removed it from {len(changed)} client(s)" if changed else ""
    click.echo(f"Deleted scope {name}{removed}.")
