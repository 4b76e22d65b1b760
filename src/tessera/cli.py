"""The ``tessera`` command. Every command exits 0 on success; bad input exits non-zero with one short line
on stderr and never a traceback. ``--json`` prints one JSON document on stdout and nothing else.

Arguments are text, and text is UTF-8: Python hands bytes that are not UTF-8 over as lone surrogates, which
fail only later, deep in a driver. Every command refuses them as it parses its arguments (:class:`_Command`),
paths aside (``--data-dir``: a path is bytes on POSIX, and the operating system takes it as it is).
"""

import functools
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from tessera.config import Settings, read_dotenv
from tessera.errors import TesseraError
from tessera.server.accounts import check_username, create_user, normalise_username, set_password
from tessera.server.grants import GRANT_TYPES
from tessera.server.registration import ClientChanges, ClientMetadata, describe, register_client, update_client
from tessera.store import Store, make_engine, upgrade
from tessera.tokens import TokenKind, digest, mint

__all__ = ["main"]

P = ParamSpec("P")
R = TypeVar("R")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _handled(func: Callable[P, R]) -> Callable[P, R]:
    """Turn Tessera's errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TesseraError as exc:
            _fail(str(exc))

    return wrapper


def _settings() -> Settings:
    import os

    environ = dict(os.environ)
    read_dotenv(Path(".env"), environ)
    return Settings.from_env(environ)


def _store(settings: Settings | None = None) -> Store:
    return Store(make_engine((settings or _settings()).database_url))


def _announce_revoked(settings: Settings, revoked: list[str]) -> None:
    """Tell resource-server caches through Redis (when configured). The tokens are revoked either way, so a
    Redis outage is a warning, not a failure: caches then drop them within their TTL bound."""
    if not settings.redis_url or not revoked:
        return
    # imported here: redis costs every other command a tenth of a second at start
    from tessera.events import PublishError, RevocationPublisher

    publisher = RevocationPublisher(settings.redis_url, channel=settings.revocation_channel)
    try:
        publisher.publish(revoked)
    except PublishError as exc:
        click.echo(f"Warning: {exc}; resource-server caches drop these tokens within their TTL.", err=True)
    finally:
        publisher.close()


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def _shown(text: str) -> str:
    """``text`` safe for a terminal: any character that is not printable (an escape sequence, a bidirectional
    override) as its Python escape, e.g. ``\\x1b`` or ``\\u202e``. Usernames are refused such characters, but a
    database from before that rule may still hold them."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def _username(store: Store, typed: str) -> str:
    """The stored name ``typed`` stands for: itself if a user has exactly that name (one stored before names
    were normalised), else its normal form, so ``ALICE`` finds ``alice``."""
    return typed if store.users.by_name(typed) is not None else normalise_username(typed)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: bytes that were not UTF-8 in argv or on stdin
        return False
    return True


class _Command(click.Command):
    """A command whose text arguments and options must be UTF-8: one line and exit status 1 otherwise."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.params:
            if isinstance(param.type, click.Path) or param.name is None:
                continue
            value = ctx.params.get(param.name)
            values = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, str) and not _is_utf8(v) for v in values):
                raise click.ClickException(f"{param.get_error_hint(ctx)} is not valid UTF-8")
        return rest


class _Group(_Command, click.Group):
    """Groups of the same kind, and commands of :class:`_Command`, all the way down."""

    command_class = _Command
    group_class = type


@click.group(cls=_Group)
@click.version_option(package_name="tessera-oauth")
def main() -> None:
    """Tessera: an OAuth 2.0 server with opaque tokens."""


# db


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@_handled
def db_upgrade() -> None:
    """Create or migrate the schema (idempotent)."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    except TesseraError as exc:  # a migration that refused, saying why
        _fail(f"could not upgrade the database: {exc}")
    except Exception as exc:  # any driver error: say what failed, in one line
        _fail(f"could not upgrade the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    click.echo("Database is up to date.")


# users


@main.group()
def users() -> None:
    """People who sign in."""


@users.command("create")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@_handled
def users_create(username: str, password_stdin: bool) -> None:
    """Create a user; the password is prompted for unless --password-stdin is given."""
    check_username(username)  # before asking for a password
    try:  # stdin decodes strictly or with surrogates, by locale: refuse bytes that are not UTF-8 either way
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    except UnicodeDecodeError:
        _fail("the password is not valid UTF-8")
    if not _is_utf8(password):
        _fail("the password is not valid UTF-8")
    user = create_user(_store().users, username, password)
    normalised = f" (the normal form of {username!r})" if user.username != username else ""
    click.echo(f"Created user {user.username}{normalised}.")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handled
def users_list(as_json: bool) -> None:
    """List users."""
    rows = _store().users.all()
    if as_json:
        _print_json([{"username": u.username, "disabled": u.disabled, "created_at": u.created_at} for u in rows])
        return
    for u in rows:
        click.echo(f"{_shown(u.username)}{'  (disabled)' if u.disabled else ''}")


@users.command("disable")
@click.argument("username")
@_handled
def users_disable(username: str) -> None:
    """Disable a user, end their sign-in sessions and revoke all of their tokens."""
    settings = _settings()
    store = _store(settings)
    name = _username(store, username)
    revoked = store.users.disable(name)
    _announce_revoked(settings, revoked)
    click.echo(f"Disabled {_shown(name)}; signed them out and revoked {len(revoked)} token(s).")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
@_handled
def users_set_password(username: str, password_stdin: bool) -> None:
    """Give a user a new password; it is prompted for unless --password-stdin is given.

    Signs the user out everywhere: every sign-in session ends, and every token issued for them (access and
    refresh tokens alike) is revoked at once, so their apps ask them to sign in again."""
    settings = _settings()
    store = _store(settings)
    name = _username(store, username)
    if store.users.by_name(name) is None:  # before asking for a password
        _fail(f"no user {username!r}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    revoked = set_password(store.users, name, password)
    _announce_revoked(settings, revoked)
    click.echo(f"Set the password of {_shown(name)}; signed them out and revoked {len(revoked)} token(s).")


@users.command("rename")
@click.argument("username")
@click.argument("new_username")
@_handled
def users_rename(username: str, new_username: str) -> None:
    """Give a user a new username; their password, tokens and consents stay."""
    new = check_username(new_username)
    store = _store()
    name = _username(store, username)
    store.users.rename(name, new)
    click.echo(f"Renamed {_shown(name)} to {new}.")


# clients


@main.group()
def clients() -> None:
    """Applications that ask for tokens."""


_GRANT_TYPES = click.Choice(GRANT_TYPES)


@clients.command("create")
@click.option("--name", required=True, help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact-match redirect URI (repeatable).")
@click.option("--grant-type", "grant_types", multiple=True, type=_GRANT_TYPES)
@click.option("--scope", default="api", show_default=True, help="The most this client may ever get.")
@click.option("--public", is_flag=True, help="No secret; authenticates with 'none'; PKCE required.")
@click.option("--introspect", is_flag=True, help="May introspect tokens of any client (a resource server).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handled
def clients_create(
    name: str,
    redirect_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scope: str,
    public: bool,
    introspect: bool,
    as_json: bool,
) -> None:
    """Register a client; its secret is shown once."""
    metadata = ClientMetadata(name, redirect_uris, grant_types, scope, public, introspect)
    registered = register_client(_store().clients, metadata, production=_settings().production)
    if as_json:
        out = describe(registered.record)
        if registered.secret is not None:
            out["client_secret"] = registered.secret
        _print_json(out)
        return
    click.echo(f"client_id:     {registered.record.client_id}")
    if registered.secret:
        click.echo(f"client_secret: {registered.secret}")
        click.echo("Store the secret now: it is not shown again.")


@clients.command("update")
@click.argument("client_id")
@click.option("--name", help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces every redirect URI (repeatable).")
@click.option("--grant-type", "grant_types", multiple=True, type=_GRANT_TYPES, help="Replaces the grant types.")
@click.option("--scope", help="The most this client may ever get.")
@click.option("--introspect/--no-introspect", default=None, help="May introspect tokens of any client.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handled
def clients_update(
    client_id: str,
    name: str | None,
    redirect_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scope: str | None,
    introspect: bool | None,
    as_json: bool,
) -> None:
    """Change a client's metadata (options not given stay as they are); its id and secret stay."""
    changes = ClientChanges(name, redirect_uris or None, grant_types or None, scope, introspect)
    record = update_client(_store().clients, client_id, changes, production=_settings().production)
    if as_json:
        _print_json(describe(record))
    else:
        click.echo(f"Updated {client_id}.")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handled
def clients_list(as_json: bool) -> None:
    """List clients (never their secrets)."""
    rows = _store().clients.all()
    if as_json:
        _print_json([describe(c) for c in rows])
        return
    for c in rows:
        kind = "public" if c.public else "confidential"
        click.echo(f"{c.client_id}  {c.name}  [{kind}; {' '.join(c.grant_types)}; scope: {c.scope}]")


@clients.command("delete")
@click.argument("client_id")
@_handled
def clients_delete(client_id: str) -> None:
    """Delete a client and revoke its tokens."""
    settings = _settings()
    revoked = _store(settings).clients.delete(client_id)
    _announce_revoked(settings, revoked)
    click.echo(f"Deleted {client_id}; revoked {len(revoked)} token(s).")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handled
def clients_rotate_secret(client_id: str, as_json: bool) -> None:
    """Give a confidential client a new secret; the old one stops working."""
    clients = _store().clients
    client = clients.get(client_id)
    if client is None:
        _fail(f"no client {client_id!r}")
    if client.public:
        _fail(f"client {client_id!r} is public and has no secret")
    secret = mint(TokenKind.CLIENT_SECRET)
    clients.set_secret(client_id, digest(secret))
    if as_json:
        _print_json({"client_id": client_id, "client_secret": secret})
    else:
        click.echo(f"client_secret: {secret}")


# tokens


@main.group()
def tokens() -> None:
    """Issued tokens."""


@tokens.command("revoke")
@click.option("--user", "username", help="Revoke every token of this user.")
@click.option("--client", "client_id", help="Revoke every token of this client.")
@_handled
def tokens_revoke(username: str | None, client_id: str | None) -> None:
    """Revoke tokens of a user or a client."""
    if (username is None) == (client_id is None):
        _fail("give exactly one of --user or --client")
    settings = _settings()
    store = _store(settings)
    tokens = store.tokens
    if username is not None:
        revoked = tokens.revoke_for_user(_username(store, username))
    else:
        revoked = tokens.revoke_for_client(client_id or "")
    _announce_revoked(settings, revoked)
    click.echo(f"Revoked {len(revoked)} token(s).")


@tokens.command("purge")
@_handled
def tokens_purge() -> None:
    """Delete expired and revoked rows that are no longer needed, and ended or expired sign-in sessions."""
    settings = _settings()
    store = _store(settings)
    removed = store.tokens.purge()
    removed += store.sessions.purge(
        int(time.time()), idle_timeout=settings.session_idle_timeout, max_age=settings.session_max_age
    )
    click.echo(f"Purged {removed} row(s).")


# serve


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@_handled
def serve(host: str, port: int, workers: int) -> None:
    """Run the authorization server (granian, one process per worker)."""
    from tessera.app.serve import run

    settings = _settings()
    run(settings, host=host, port=port, workers=workers)


# demo


@main.command()
@click.option(
    "--auth-port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Authorization server."
)
@click.option("--api-port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="Demo API.")
@click.option("--app-port", default=8002, show_default=True, type=click.IntRange(1, 65535), help="Demo client app.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database (tessera-demo.db) here; by default a temporary directory, deleted at the end.",
)
@_handled
def demo(auth_port: int, api_port: int, app_port: int, data_dir: Path | None) -> None:
    """Run the authorization server, a demo API and a demo client app on 127.0.0.1, with the user demo/demo."""
    import os

    from tessera.demo.run import DemoPorts, run

    try:
        run(DemoPorts(auth_port, api_port, app_port), data_dir, os.environ)
    except OSError as exc:  # e.g. a --data-dir that cannot be created
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))


def _entry() -> None:  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)
    main()
