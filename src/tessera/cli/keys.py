"""``tessera keys``: the keys that sign OpenID Connect ID tokens (:mod:`tessera.server.keys`)."""

import datetime

import click

from tessera.cli.base import audit, handled, load_settings, main, print_json, store_of
from tessera.server.audit import Event
from tessera.server.keys import ALGORITHMS, DEFAULT_ALG, KeyEncryption, published, rotate
from tessera.store import SigningKeyRecord


@main.group()
def keys() -> None:
    """The keys that sign ID tokens."""


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _described(record: SigningKeyRecord, now: float, ttl: int) -> dict[str, object]:
    return {
        "kid": record.kid,
        "alg": record.alg,
        "state": record.state,
        "created": record.created_at,
        "retired": record.retired_at,
        "published": published(record, now, ttl),
    }


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def keys_list(as_json: bool) -> None:
    """List the signing keys: active ones sign; retired ones stay published while their ID tokens may live."""
    settings = load_settings()
    now = datetime.datetime.now(datetime.UTC).timestamp()
    records = store_of(settings).signing_keys.all()
    if as_json:
        print_json([_described(r, now, settings.id_token_ttl) for r in records])
        return
    if not records:
        click.echo("No signing keys yet: `tessera db upgrade` or the server's first ID token makes them.")
    for r in records:
        shown = "published" if published(r, now, settings.id_token_ttl) else "no longer published"
        click.echo(f"{r.kid}  {r.alg}  {r.state}  created {_when(r.created_at)}  ({shown})")


@keys.command("rotate")
@click.option("--alg", type=click.Choice(ALGORITHMS), default=DEFAULT_ALG, show_default=True, help="Its algorithm.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handled
def keys_rotate(alg: str, as_json: bool) -> None:
    """Make a new signing key for ALG; the previous one is retired.

    Every server signs with the new key within a second; the retired key stays in the JWKS until every ID token
    it signed has expired (TESSERA_ID_TOKEN_TTL), then leaves it."""
    settings = load_settings()
    store = store_of(settings)
    record = rotate(store.signing_keys, KeyEncryption.from_settings(settings), alg)
    audit(store, Event.KEY_ROTATED, settings=settings, detail={"kid": record.kid, "alg": alg})
    if as_json:
        print_json(_described(record, record.created_at, settings.id_token_ttl))
        return
    click.echo(f"New {alg} signing key {record.kid}; the previous one is retired and stays published for "
               f"{settings.id_token_ttl} seconds.")  # fmt: skip
