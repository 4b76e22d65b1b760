"""``tessera resources``: the protected resources (APIs) tokens may be restricted to (RFC 8707). The rules are
:mod:`tessera.server.resources`'s.

A change shows at the server at once: the grants read the resources a request names on every request that names
one."""

import click

from tessera.cli.base import handled, load_settings, main, print_json, shown, store_of
from tessera.server.resources import create_resource, describe, normal_uri
from tessera.server.scopes import catalogue


@main.group()
def resources() -> None:
    """Protected resources (APIs) that tokens may be restricted to."""


@resources.command("create")
@click.argument("uri")
@click.option("--name", help="Shown to people on the consent page.  [default: the URI]")
@click.option("--scope", help="The most a token for this resource may carry (declared scopes).  [default: any]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def resources_create(uri: str, name: str | None, scope: str | None, as_json: bool) -> None:
    """Register a resource, named by its URI (https://api.example/)."""
    settings = load_settings()
    store = store_of(settings)
    record = create_resource(
        store.resources, uri, name=name, scope=scope, scopes=catalogue(store.scopes), production=settings.production
    )
    if as_json:
        print_json(describe(record))
        return
    limited = f" (scopes: {record.scope})" if record.scope else ""
    click.echo(f"Registered resource {shown(record.uri)}{limited}.")


@resources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def resources_list(as_json: bool) -> None:
    """List the registered resources."""
    rows = store_of().resources.all()
    if as_json:
        print_json([describe(r) for r in rows])
        return
    width = max((len(shown(r.uri)) for r in rows), default=0)
    for r in rows:
        click.echo(f"{shown(r.uri):<{width}}  {shown(r.name)}  scopes: {r.scope or '(any)'}")


@resources.command("delete")
@click.argument("uri")
@handled
def resources_delete(uri: str) -> None:
    """Delete a resource. Tokens already issued for it keep their audience until they expire or are revoked;
    no new token is issued for it."""
    store_of().resources.delete(normal_uri(uri))
    click.echo(f"Deleted resource {shown(normal_uri(uri))}.")
