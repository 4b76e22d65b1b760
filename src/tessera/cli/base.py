"""The ``tessera`` command group, and what its commands share. Every command exits 0 on success; bad input
exits non-zero with one short line on stderr and never a traceback. ``--json`` prints one JSON document on stdout
and nothing else.

Arguments are text, and text is UTF-8: Python hands bytes that are not UTF-8 over as lone surrogates, which
fail only later, deep in a driver. Every command refuses them as it parses its arguments (:class:`_Command`),
paths aside (``--data-dir``: a path is bytes on POSIX, and the operating system takes it as it is).

Commands read the settings without the production rules only a server needs (the secret key, the issuer:
``load_settings(for_server=False)``, the default here); ``tessera serve`` asks for them.

Commands that revoke tokens say how many pairs (:func:`revoked_pairs`): the store returns one access-token digest
per row, and a row is an access token with the refresh token issued with it, revoked together. They tell
resource-server caches through Redis (:func:`announce_revoked`) and warn, on stderr, when they cannot.
"""

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click

from tessera.config import Settings, read_dotenv
from tessera.errors import NotFound, TesseraError
from tessera.server.accounts import normalise_username
from tessera.store import Store, make_engine

if TYPE_CHECKING:
    from tessera.server.audit import Event

__all__ = [
    "announce_revoked",
    "audit",
    "fail",
    "handled",
    "is_utf8",
    "load_settings",
    "main",
    "print_json",
    "revoked_pairs",
    "shown",
    "store_of",
    "subject_of",
    "username_of",
]

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Turn Tessera's errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TesseraError as exc:
            fail(str(exc))

    return wrapper


def load_settings(*, for_server: bool = False) -> Settings:
    import os

    environ = dict(os.environ)
    read_dotenv(Path(".env"), environ)
    return Settings.from_env(environ, for_server=for_server)


def store_of(settings: Settings | None = None) -> Store:
    """The store; with ``TESSERA_REDIS_URL``, every client or user it changes is announced to the server
    processes (which then drop their cached copy at once, instead of within 5 s). Its connections are closed when
    the command ends, however it ends."""
    settings = settings or load_settings()
    store = Store(make_engine(settings.database_url, prepared_statements=settings.prepared_statements))
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(store.close)
    if settings.redis_url:
        store.listen(_ChangeAnnouncer(settings))
    return store


class _ChangeAnnouncer:
    """Publishes each change on the changes stream; a Redis outage is a warning, since the change is made."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(self, kind: str, row_id: str) -> None:
        from tessera.events import PublishError, RevocationPublisher, changes_stream

        assert self._settings.redis_url is not None
        publisher = RevocationPublisher(self._settings.redis_url, changes=changes_stream(self._settings.redis_prefix))
        try:
            publisher.changed(kind, row_id)
        except PublishError as exc:
            _warn_once(f"Warning: {exc}; server processes see this change within 5 s.")
        finally:
            publisher.close()


#: what a command says on stderr when it revoked tokens without Redis to tell the resource servers' caches
NO_REDIS_WARNING = (
    "Warning: TESSERA_REDIS_URL is not set, so resource servers that cache tokens accept these until their cache "
    "entry expires (at most their ttl, e.g. 60 s); set it here and run a RevocationSubscriber to end them at once."
)


def announce_revoked(
    settings: Settings, revoked: list[str], *, subject: str | None = None, client_id: str | None = None
) -> None:
    """Tell resource-server caches through Redis (when configured). The tokens are revoked either way, so a
    Redis outage, or no Redis at all, is a warning, not a failure: caches then drop them within their TTL bound.

    With ``subject`` (a user's, as introspection's ``sub``) and/or ``client_id``, every token of that user, that
    client, or that user for that client was revoked: one "not before" event says so, however many tokens."""
    if not revoked:
        return
    if not settings.redis_url:
        click.echo(NO_REDIS_WARNING, err=True)
        return
    # imported here: redis costs every other command a tenth of a second at start
    from tessera.events import PublishError, RevocationPublisher

    publisher = RevocationPublisher(settings.redis_url, channel=settings.revocation_channel)
    try:
        if subject is None and client_id is None:
            publisher.publish(revoked)
        else:
            publisher.not_before(revoked, subject=subject, client_id=client_id)
    except PublishError as exc:
        _warn_once(f"Warning: {exc}; resource-server caches drop these tokens within their TTL.")
    finally:
        publisher.close()


def audit(
    store: Store,
    event: "Event",
    *,
    settings: Settings | None = None,
    client_id: str | None = None,
    user: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    """Record what a command changed in the audit trail (``detail["via"]`` is ``cli``), written at once."""
    from tessera.server.audit import AuditTrail

    settings = settings or load_settings()
    trail = AuditTrail(store.audit if settings.audit == "on" else None, enabled=settings.audit != "off")
    trail.emit(event, client_id=client_id, user=user, detail={"via": "cli", **(detail or {})})


def _warn_once(line: str) -> None:
    """One warning per command about Redis being away, however many things it could not announce."""
    meta = click.get_current_context().meta
    if not meta.get("tessera.redis_warned"):
        meta["tessera.redis_warned"] = True
        click.echo(line, err=True)


def revoked_pairs(revoked: list[str]) -> str:
    """``Revoked 3 token pairs (access and refresh tokens).``, or ``Nothing to revoke.``"""
    if not revoked:
        return "Nothing to revoke."
    pairs = "1 token pair" if len(revoked) == 1 else f"{len(revoked)} token pairs"
    return f"Revoked {pairs} (access and refresh tokens)."


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def shown(text: str) -> str:
    """``text`` safe for a terminal: any character that is not printable (an escape sequence, a bidirectional
    override) as its Python escape, e.g. ``\\x1b`` or ``\\u202e``. Usernames are refused such characters, but a
    database from before that rule may still hold them."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def subject_of(store: Store, username: str) -> str:
    """The user's ``sub``, as introspection and the resource toolkit know them; NotFound for an unknown user."""
    user = store.users.by_name(username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user.subject


def username_of(store: Store, typed: str) -> str:
    """The stored name ``typed`` stands for: itself if a user has exactly that name (one stored before names
    were normalised), else its normal form, so ``ALICE`` finds ``alice``."""
    return typed if store.users.by_name(typed) is not None else normalise_username(typed)


def is_utf8(text: str) -> bool:
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
            if any(isinstance(v, str) and not is_utf8(v) for v in values):
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
