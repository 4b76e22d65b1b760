"""``tessera clients``: applications that ask for tokens. The rules are :mod:`tessera.server.registration`'s."""

import datetime
import json
from pathlib import Path
from typing import Any

import click
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

from tessera.cli.base import announce_revoked, audit, handled, load_settings, main, print_json, revoked_pairs, store_of
from tessera.server.audit import Event
from tessera.server.client_keys import MAX_JWKS
from tessera.server.grants import GRANT_TYPES
from tessera.server.keys import ALGORITHMS
from tessera.server.registration import (
    MAX_GRACE,
    ClientChanges,
    ClientMetadata,
    describe,
    register_client,
    rotate_secret,
    update_client,
)
from tessera.server.scopes import catalogue


@main.group()
def clients() -> None:
    """Applications that ask for tokens."""


#: short names the command line takes for grant types whose registered name is a URN
_SHORT = {"device_code": DEVICE_CODE_GRANT_TYPE}
_GRANT_TYPES = click.Choice([*(g for g in GRANT_TYPES if g not in _SHORT.values()), *_SHORT])


def _grant_types(given: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_SHORT.get(g, g) for g in given)


@clients.command("create")
@click.option("--name", required=True, help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact-match redirect URI (repeatable).")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=_GRANT_TYPES,
    help="Repeatable. Default: authorization_code and refresh_token with a --redirect-uri, else client_credentials. "
    "device_code: sign in devices and command-line tools (RFC 8628; usually with --public).",
)
@click.option("--scope", help="Declared scopes: the most this client may ever get.  [default: those marked default]")
@click.option("--public", is_flag=True, help="No secret; authenticates with 'none'; PKCE required.")
@click.option("--introspect", is_flag=True, help="May introspect tokens of any client (a resource server).")
@click.option("--require-dpop", is_flag=True, help="Every token request must carry a DPoP proof (RFC 9449).")
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "private_key_jwt"]),
    help="private_key_jwt: no secret; the client signs a JWT with its key (needs --jwks-file or --jwks-uri).",
)
@click.option("--jwks-file", type=click.Path(dir_okay=False, path_type=Path), help="The client's public keys (JWKS).")
@click.option("--jwks-uri", help="Where the client publishes its public keys (https://).")
@click.option(
    "--id-token-alg",
    type=click.Choice(ALGORITHMS),
    help="How its OpenID Connect ID tokens are signed.  [default: RS256]",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Where OpenID Connect sign-out may send people back to, matched exactly (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def clients_create(
    name: str,
    redirect_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scope: str | None,
    public: bool,
    introspect: bool,
    require_dpop: bool,
    auth_method: str | None,
    jwks_file: Path | None,
    jwks_uri: str | None,
    id_token_alg: str | None,
    post_logout_redirect_uris: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register a client; its secret is shown once."""
    jwks = None if jwks_file is None else _read_jwks(jwks_file)
    method = None if auth_method == "client_secret_basic" else auth_method
    metadata = ClientMetadata(
        name,
        redirect_uris,
        _grant_types(grant_types),
        scope,
        public,
        introspect,
        require_dpop,
        method,
        jwks,
        jwks_uri,
        id_token_alg=id_token_alg,
        post_logout_redirect_uris=post_logout_redirect_uris,
    )
    settings = load_settings()
    store = store_of(settings)
    registered = register_client(
        store.clients, metadata, scopes=catalogue(store.scopes), production=settings.production
    )
    audit(store, Event.CLIENT_CREATED, settings=settings, client_id=registered.record.client_id,
          detail={"name": registered.record.name})  # fmt: skip
    if as_json:
        out = describe(registered.record)
        if registered.secret is not None:
            out["client_secret"] = registered.secret
        print_json(out)
        return
    click.echo(f"client_id:     {registered.record.client_id}")
    if registered.secret:
        click.echo(f"client_secret: {registered.secret}")
        click.echo("Store the secret now: it is not shown again.")


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()[: MAX_JWKS + 1]
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    if len(text) > MAX_JWKS:
        raise click.ClickException(f"{path} is larger than 64 KiB: a JWKS of public keys is a few KiB")
    try:
        value = json.loads(text)
    except ValueError:
        raise click.ClickException(f"{path} is not JSON: give a JWKS (RFC 7517 §5)") from None
    if not isinstance(value, dict):
        raise click.ClickException(f'{path} is not a JWKS: a JSON object with a "keys" array')
    return value


@clients.command("update")
@click.argument("client_id")
@click.option("--name", help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces every redirect URI (repeatable).")
@click.option("--grant-type", "grant_types", multiple=True, type=_GRANT_TYPES, help="Replaces the grant types.")
@click.option("--scope", help="Declared scopes: the most this client may ever get.")
@click.option("--introspect/--no-introspect", default=None, help="May introspect tokens of any client.")
@click.option("--require-dpop/--no-require-dpop", default=None, help="Every token request must carry a DPoP proof.")
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Replaces every post-logout redirect URI (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def clients_update(
    client_id: str,
    name: str | None,
    redirect_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scope: str | None,
    introspect: bool | None,
    require_dpop: bool | None,
    post_logout_redirect_uris: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change a client's metadata (options not given stay as they are); its id and secret stay."""
    changes = ClientChanges(
        name,
        redirect_uris or None,
        _grant_types(grant_types) or None,
        scope,
        introspect,
        require_dpop,
        post_logout_redirect_uris or None,
    )
    settings = load_settings()
    store = store_of(settings)
    record = update_client(
        store.clients, client_id, changes, scopes=catalogue(store.scopes), production=settings.production
    )
    audit(store, Event.CLIENT_UPDATED, settings=settings, client_id=client_id)
    if as_json:
        print_json(describe(record))
    else:
        click.echo(f"Updated {client_id}.")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def clients_list(as_json: bool) -> None:
    """List clients (never their secrets)."""
    rows = store_of().clients.all()
    if as_json:
        print_json([describe(c) for c in rows])
        return
    for c in rows:
        kind = "public" if c.public else "confidential"
        introspect = "; may introspect" if c.may_introspect else ""
        dpop = "; DPoP required" if c.require_dpop else ""
        click.echo(f"{c.client_id}  {c.name}  [{kind}; {' '.join(c.grant_types)}; scope: {c.scope}{introspect}{dpop}]")


@clients.command("delete")
@click.argument("client_id")
@handled
def clients_delete(client_id: str) -> None:
    """Delete a client and revoke its tokens."""
    settings = load_settings()
    store = store_of(settings)
    revoked = store.clients.delete(client_id)
    audit(store, Event.CLIENT_DELETED, settings=settings, client_id=client_id, detail={"revoked": len(revoked)})
    announce_revoked(settings, revoked, client_id=client_id)
    click.echo(f"Deleted {client_id}. {revoked_pairs(revoked)}")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option(
    "--grace",
    type=int,
    default=0,
    metavar="SECONDS",
    help=f"Keep the old secret working beside the new one this long (up to {MAX_GRACE}, 30 days); 0: stop it now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def clients_rotate_secret(client_id: str, grace: int, as_json: bool) -> None:
    """Give a confidential client a new secret; the old one stops working now, or after --grace seconds.

    With a grace period, update the client with the new secret meanwhile: both work until then, so there is no
    outage. Rotating again ends a secret still in its grace at once."""
    store = store_of()
    rotated = rotate_secret(store.clients, client_id, grace=grace)
    audit(store, Event.CLIENT_SECRET_ROTATED, client_id=client_id, detail={"grace": grace})
    until = rotated.previous_works_until
    if as_json:
        out: dict[str, object] = {"client_id": client_id, "client_secret": rotated.secret}
        if until is not None:
            out["previous_secret_expires_at"] = until
        print_json(out)
        return
    click.echo(f"client_secret: {rotated.secret}")
    click.echo("Store the secret now: it is not shown again.")
    if until is None:
        click.echo("The old secret no longer works.")
    else:
        when = datetime.datetime.fromtimestamp(until, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"The old secret works until {when} ({grace} s from now); then only the new one.")
